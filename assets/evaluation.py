"""Evaluation: a threshold and method sweep over labeled photo sets, the default chosen on all of them, logged to
MLflow."""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.metadata import OWNERS, layer
from assets.resources import FaceModels, MlflowTracking
from evaluation.sweep import DEV_SETS, combined_table, load_sets, sweep


class SweepConfig(Config):
    labeled_sets: list[str] = Field(list(DEV_SETS), description="Sets under $FACEGRAPH_DATASETS (lfw, five_celebs, "
                                    "...; lfw_degraded is made from lfw) or folders of <identity>/<photo>.")
    refine: bool = Field(True, description="Also sweep tau in steps of 0.01 near each method's best.")


@asset(group_name="evaluation", kinds={"mlflow"}, owners=OWNERS, tags=layer("evaluation"))
def threshold_sweep(context: AssetExecutionContext, config: SweepConfig, models: FaceModels,
                    mlflow: MlflowTracking) -> MaterializeResult:
    """Every clustering method over a range of thresholds on the labeled sets, the best worst-set setting chosen,
    logged to MLflow."""
    from evaluation import tracking  # mlflow is slow to import: only this step pays for it

    sets = load_sets(config.labeled_sets, models.pipeline, progress=False)
    result = sweep(sets, refine=config.refine, progress=False)
    run_id = tracking.log_sweep(sets, result, tracking_uri=mlflow.tracking_uri, experiment=mlflow.experiment)
    chosen = result.combined()[0]
    context.log.info(f"chosen on {', '.join(result.sets)}: {chosen['name']}, worst-set BCubed F1 "
                     f"{chosen['worst_bcubed_f1']:.4f}")
    return MaterializeResult(metadata={
        "labeled_sets": ", ".join(result.sets),
        "refine": config.refine,
        "photos": sum(len(e.identities) for e in sets),
        "settings": len(result.combined()),
        "chosen": chosen["name"],
        "chosen_worst_bcubed_f1": chosen["worst_bcubed_f1"],
        "chosen_mean_bcubed_f1": chosen["mean_bcubed_f1"],
        "mlflow_parent_run": run_id,
        "mlflow_run": MetadataValue.url(mlflow.run_url(run_id)),
        "mlflow_tracking_uri": mlflow.shown_uri,
        "best_per_method": MetadataValue.md(combined_table(result)),
    })
