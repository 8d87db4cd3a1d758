"""Dagster assets and asset checks, one module per stage: faces -> collection -> persons -> gallery,
and the evaluation sweep."""

from assets.checks import collection_holds_the_batches, embeddings_are_unit_vectors, person_shares_under_alarms
from assets.collection import collection_batch
from assets.evaluation import threshold_sweep
from assets.faces import batch_faces
from assets.gallery import person_gallery
from assets.persons import persons

ASSETS = [batch_faces, collection_batch, persons, person_gallery, threshold_sweep]
CHECKS = [embeddings_are_unit_vectors, collection_holds_the_batches, person_shares_under_alarms]
