"""Evaluation: a threshold and method sweep over a labeled photo set, logged to MLflow."""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.resources import FaceModels, MlflowTracking
from evaluation.embeddings import labeled_embeddings
from evaluation.labeled import datasets_root
from evaluation.sweep import best_per_variant, sweep, table


class SweepConfig(Config):
    labeled_set: str = Field("five_celebs", description="A set under $FACEGRAPH_DATASETS (lfw, five_celebs, ...) or "
                                                        "any folder of <identity>/<photo>.")
    refine: bool = Field(True, description="Also sweep tau in steps of 0.01 near each method's best.")


@asset(group_name="evaluation", kinds={"mlflow"})
def threshold_sweep(context: AssetExecutionContext, config: SweepConfig, models: FaceModels,
                    mlflow: MlflowTracking) -> MaterializeResult:
    """Every clustering method over a range of thresholds on a labeled set, scored and logged to MLflow."""
    root = datasets_root() / config.labeled_set
    embeddings = labeled_embeddings(root if root.is_dir() else config.labeled_set, models.pipeline, progress=False)
    rows, run_id = sweep(embeddings, tracking_uri=mlflow.tracking_uri, experiment=mlflow.experiment,
                         refine=config.refine)
    best = max(best_per_variant(rows).values(), key=lambda row: row["bcubed_f1"])
    context.log.info(f"best on {embeddings.set_name}: {best['name']}, BCubed F1 {best['bcubed_f1']:.4f}")
    return MaterializeResult(metadata={
        "labeled_set": embeddings.set_name,
        "dataset_fingerprint": embeddings.fingerprint,
        "photos": len(embeddings.identities),
        "detection_rate": embeddings.detection_rate,
        "settings": len(rows),
        "best": best["name"],
        "best_bcubed_f1": best["bcubed_f1"],
        "best_pairwise_f1": best["pairwise_f1"],
        "mlflow_parent_run": run_id,
        "best_per_method": MetadataValue.md(table(rows)),
    })
