"""The Dagster UI loads this code location: the webserver on loopback serves the asset graph over GraphQL."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from dagster import DagsterInstance

from assets.versions import CLUSTERING_VERSION, FACES_VERSION
from dagster_project.resources import PROJECT_DIR
from dagster_project.run_all import INSTANCE_TEMPLATE
from dagster_project.sensors import cursor_of, store_cursor

STARTUP_SECONDS = 180  # loading the code location imports the models' stack; 2 busy cores can be slow
SEEDED = {"photos/Madonna": "0123456789abcdef"}  # a cursor stored before the UI starts, as run_all stores one
ASSET_KEYS_QUERY = "{ assetNodes { assetKey { path } } }"
UI_QUERY = """{
  assetNodes { assetKey { path } opVersion owners { ... on TeamAssetOwner { team } } tags { key value } }
  sensorOrError(sensorSelector: {repositoryLocationName: "facegraph", repositoryName: "__repository__",
                                 sensorName: "photo_folder_sensor"}) {
    ... on Sensor { description sensorState { status typeSpecificData { ... on SensorData { lastCursor } } } }
  }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def webserver(tmp_path):
    """`dagster-webserver -w workspace.yaml` on a free loopback port; stopped with its code server afterwards."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(INSTANCE_TEMPLATE, home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        store_cursor(instance, cursor_of(SEEDED))
    port = free_port()
    env = os.environ | {"DAGSTER_HOME": str(home), "FACEGRAPH_DATA": str(tmp_path / "data")}
    command = [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1",
               "-p", str(port)]
    with open(tmp_path / "webserver.log", "w") as log:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield port, process, tmp_path / "webserver.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_webserver_serves_the_asset_graph(webserver):
    port, process, log = webserver
    deadline, answer = time.monotonic() + STARTUP_SECONDS, None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the webserver exited with {process.returncode}:\n{log.read_text()[-3000:]}"
        try:
            answer = graphql(port, ASSET_KEYS_QUERY)
            if answer.get("data", {}).get("assetNodes"):
                break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet
        time.sleep(1)
    assert answer and answer.get("data"), f"no asset graph in {STARTUP_SECONDS} s: {answer}\n{log.read_text()[-3000:]}"
    keys = {"/".join(node["assetKey"]["path"]) for node in answer["data"]["assetNodes"]}
    assert keys == {"batch_faces", "collection_batch", "persons", "person_gallery", "threshold_sweep"}

    ui = graphql(port, UI_QUERY)["data"]
    nodes = {"/".join(node["assetKey"]["path"]): node for node in ui["assetNodes"]}
    assert nodes["batch_faces"]["opVersion"] == FACES_VERSION and nodes["persons"]["opVersion"] == CLUSTERING_VERSION
    assert all(node["owners"] == [{"team": "facegraph"}] for node in nodes.values())
    assert {"key": "layer", "value": "faces"} in nodes["batch_faces"]["tags"]
    sensor = ui["sensorOrError"]
    assert "photo folder" in sensor["description"]
    assert sensor["sensorState"]["status"] == "STOPPED"
    assert json.loads(sensor["sensorState"]["typeSpecificData"]["lastCursor"]) == SEEDED  # the UI sees the cursor
