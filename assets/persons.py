"""Stage 3: persons, by a full recluster of the collection with its settings as run config."""

import numpy as np
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.collection import ClusteringConfig, collection_batch
from assets.metadata import OWNERS, layer, location, seconds, settings_metadata, share
from assets.resources import STORE_POOL, FaceCollection, PhotoFolder
from assets.versions import CLUSTERING_VERSION
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


@asset(deps=[collection_batch], group_name="persons", kinds={"qdrant"}, pool=STORE_POOL,
       code_version=CLUSTERING_VERSION, owners=OWNERS, tags=layer("persons"))
def persons(context: AssetExecutionContext, config: ClusteringConfig, store: FaceCollection,
            photos: PhotoFolder) -> MaterializeResult:
    """Every face of the collection grouped into persons (corrections kept, person ids carried over), after the
    photos gone from the photo folder, also whole folders of them, are removed (`FaceGraph.sync_folder`)."""
    graph = store.graph
    synced = graph.sync_folder(photos.root(), allow_mass_removal=photos.allow_mass_removal)
    if synced.removed_photos or synced.moved:
        context.log.info(f"{synced.removed_photos} photos gone from {photos.root()} removed with their "
                         f"{synced.removed_faces} faces; {synced.moved} moved ones followed")
    settings = config.settings()
    run = graph.cluster_all(settings)
    shares = person_shares(graph)
    context.log.info(f"{shares['persons']} persons of {shares['faces']} faces ({config.method}, τ={config.threshold})")
    return MaterializeResult(metadata={
        **settings_metadata(settings),
        "graph": run.graph,
        "faces": shares["faces"],
        "edges": run.edges,
        "persons": shares["persons"],
        "faces_rewritten": run.faces_rewritten,
        "largest_person_share": share(shares["largest_person_share"]),
        "singleton_share": share(shares["singleton_share"]),
        **seconds(run.seconds),
        "largest_persons": MetadataValue.json(graph.list_persons(limit=5)),
        "store": location(store.where),
        "photos_removed": synced.removed_photos,
        "photos_moved": synced.moved,
    })
