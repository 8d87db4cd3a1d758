"""Jobs: one photo batch through the models into the collection, and the recluster of every face into persons."""

from dagster import AssetSelection, define_asset_job

from assets import batch_faces, collection_batch, person_gallery, persons, threshold_sweep

photo_batch_job = define_asset_job(
    "photo_batch",
    selection=AssetSelection.assets(batch_faces, collection_batch),
    description="Detect and embed the faces of one photo batch and add them to the collection.",
)

recluster_job = define_asset_job(
    "recluster",
    selection=AssetSelection.assets(persons, person_gallery),
    description="Group every face of the collection into persons again and redraw the gallery.",
)

sweep_job = define_asset_job(
    "sweep",
    selection=AssetSelection.assets(threshold_sweep),
    description="Sweep thresholds and methods on a labeled photo set and log the runs to MLflow.",
)
