"""Stage 4: the persons as an HTML page of face crops, so a run can be looked at."""

from dagster import MaterializeResult, MetadataValue, asset

from assets.metadata import OWNERS, layer
from assets.persons import persons
from assets.resources import STORE_POOL, DataFolder, FaceCollection
from facegraph.gallery import write_gallery


@asset(deps=[persons], group_name="persons", kinds={"html"}, pool=STORE_POOL, owners=OWNERS, tags=layer("gallery"))
def person_gallery(store: FaceCollection, data: DataFolder) -> MaterializeResult:
    """An HTML page of the persons, largest first, with their face crops."""
    path = write_gallery(store.graph, data.file("gallery/persons.html")).resolve()
    return MaterializeResult(metadata={"path": MetadataValue.path(str(path)), "open": MetadataValue.url(path.as_uri())})
