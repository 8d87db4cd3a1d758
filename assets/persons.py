"""Stage 3: persons, by a full recluster of the collection with its settings as run config."""

import numpy as np
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.collection import ClusteringConfig, collection_batch
from assets.resources import STORE_POOL, FaceCollection, PhotoFolder
from evaluation.metrics import singleton_share
from facegraph.persons import FaceGraph


def person_shares(graph: FaceGraph) -> dict:
    """Faces, persons, the largest person's share of the faces and the share of persons with a single face."""
    sizes = np.array(sorted(graph.collection.person_sizes().values(), reverse=True), dtype=np.int64)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return {
        "faces": int(sizes.sum()),
        "persons": len(sizes),
        "largest_person_share": float(sizes[0] / sizes.sum()) if len(sizes) else 0.0,
        "singleton_share": singleton_share(labels),
    }


@asset(deps=[collection_batch], group_name="persons", kinds={"qdrant"}, pool=STORE_POOL)
def persons(context: AssetExecutionContext, config: ClusteringConfig, store: FaceCollection,
            photos: PhotoFolder) -> MaterializeResult:
    """Every face of the collection grouped into persons (corrections kept, person ids carried over), after the
    photos gone from the photo folder, also whole folders of them, are removed (`FaceGraph.sync_folder`)."""
    graph = store.graph
    synced = graph.sync_folder(photos.root())
    if synced.removed_photos or synced.moved:
        context.log.info(f"{synced.removed_photos} photos gone from {photos.root()} removed with their "
                         f"{synced.removed_faces} faces; {synced.moved} moved ones followed")
    graph.cluster_all(config.settings())
    run = graph.last_run
    shares = person_shares(graph)
    context.log.info(f"{shares['persons']} persons of {shares['faces']} faces ({config.method}, τ={config.threshold})")
    return MaterializeResult(metadata={
        **{key: value for key, value in run.items() if isinstance(value, (int, float, str))},
        **shares,
        "seconds": MetadataValue.json(run.get("seconds", {})),
        "largest_persons": MetadataValue.json(graph.list_persons(limit=5)),
        "store": store.where,
        "photos_removed": synced.removed_photos,
        "photos_moved": synced.moved,
    })
