"""LayerNext annotation batches with a shape that has no geometry: refused whole with 406,
naming the image and the shape, as our own upload refuses such a file."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import layernext
import pytest

from metalake import Client, InvalidAnnotationFileError
from tests.conftest import upload_and_wait
from tests.media_factory import make_folder
from tests.servers import Server, serve

IMAGE = "shapes_img_000.jpg"
LABEL = {"metadata": {}, "color": "#ffffff", "attributeValues": {}}
CAR = {"type": "rectangle", "bbox": [1, 2, 10, 10], "label": "car"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ln-shapes")
    with serve(root / "lake") as running:
        with Client(running.url, running.key, running.secret, show_progress=False) as client:
            upload_and_wait(client, str(make_folder(root / "images", 2)), "image", "shapes")
        yield running


@pytest.fixture(scope="module")
def ours(server: Server) -> Iterator[Client]:
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        yield client


def wire_shape(kind: str, label: str, **geometry: Any) -> dict[str, Any]:
    """An annotation object as layernext 2.3.4 sends it (section 5.4 of the protocol)."""
    text = {"label": label, "labelText": label, "key": label, **LABEL}
    return {"id": f"shape_{label}", "shapeId": 1, "type": kind, "label": text, **geometry}


def send_batch(server: Server, operation: str, objects: list[dict[str, Any]]) -> httpx.Response:
    return send_entries(
        server, operation, [{"objectKey": IMAGE, "data": {"annotationObjects": objects}}]
    )


def send_entries(server: Server, operation: str, entries: list[Any]) -> httpx.Response:
    body = {
        "metaUpdatesArray": json.dumps(entries),
        "sessionId": "1795438268.238236",
        "totalImageCount": 1,
        "uploadedImageCount": 1,
        "operationMode": 2,
        "operationType": 1,
    }
    return httpx.post(
        f"{server.url}/datalake/api/metadata/operationdata/{operation}/update",
        params={"isNormalized": "False"},
        json=body,
        auth=(server.key, server.secret),
    )


GOOD = wire_shape("rectangle", "car", boxBoundariesAndDimensions={"x": 1, "y": 2, "w": 3, "h": 4})
SHAPES_WITHOUT_GEOMETRY = [
    (
        wire_shape("line", "lane"),
        "line: a line needs a list of at least 2 [x, y] points",
        "line 'lane'",
    ),
    (wire_shape("line", "lane", points=[]), "line: a line needs", "line 'lane'"),
    (wire_shape("polygon", "road"), "polygon: a polygon needs", "polygon 'road'"),
    (wire_shape("points", "dot", points=None), "points: a points needs", "points 'dot'"),
    (wire_shape("rectangle", "car"), "bbox: must be 4 numbers", "rectangle 'car'"),
]


@pytest.mark.parametrize(("shape", "problem", "named"), SHAPES_WITHOUT_GEOMETRY)
def test_a_shape_without_geometry_refuses_the_batch_with_406(
    server: Server, ours: Client, shape: dict[str, Any], problem: str, named: str
):
    operation = f"op-{shape['type']}-{len(shape)}"
    answer = send_batch(server, operation, [GOOD, shape])
    assert answer.status_code == 406, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_annotation_file"
    assert f"images[0].annotations[1].{problem}" in error["message"]
    assert error["message"].endswith(f"(image {IMAGE!r}, {named})")
    stored = ours.get_file_details(IMAGE)["annotations"]
    assert [a for a in stored if a["operation_id"] == operation] == []


def test_the_real_client_line_under_polygon_stores_nothing_and_the_log_says_why(
    server: Server, ours: Client, tmp_path: Path
):
    lane = {"type": "line", "polygon": [[0, 0], [10, 10]], "label": "lane"}
    document = {"images": [{"image": "img_000.jpg", "annotations": [CAR, lane]}]}
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(document))
    ln = layernext.LayerNextClient(server.key, server.secret, server.url)
    ln.upload_annotations_for_collection("shapes", "ln-lane", str(path), False, True)
    stored = ours.get_file_details(IMAGE)["annotations"]
    assert [a for a in stored if a["operation_id"] == "ln-lane"] == []
    expected = f"(image {IMAGE!r}, line 'lane')"
    deadline = time.monotonic() + 10  # the line is written just after the answer
    while expected not in (log := server.log.read_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    assert "annotation batch of operation 'ln-lane' refused" in log


def test_our_own_upload_names_the_image_and_shape_the_same_way(ours: Client, tmp_path: Path):
    lane = {"type": "line", "label": "lane"}
    document = {"images": [{"image": "img_001.jpg", "annotations": [CAR, lane]}]}
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidAnnotationFileError) as caught:
        ours.upload_annotations_for_collection("shapes", "own-lane", str(path), False, True)
    message = str(caught.value)
    assert "images[0].annotations[1].line: a line needs a list of at least 2" in message
    assert message.endswith("(image 'img_001.jpg', line 'lane')")


MALFORMED_ENTRIES = [
    ({"objectKey": IMAGE, "data": "boxes"}, "annotationObjects must be a list"),
    ({"objectKey": IMAGE, "data": {"annotationObjects": {"a": 1}}}, "must be a list"),
    ({"objectKey": 5, "data": {}}, "objectKey must be a string"),
    ({"storagePath": ["a"], "data": {}}, "storagePath must be a string"),
    ({"jobId": "6b0452cfdf4dd9c55981aae1", "fileName": None}, "fileName must be a string"),
]


@pytest.mark.parametrize(("entry", "problem"), MALFORMED_ENTRIES)
def test_a_malformed_batch_entry_is_refused_with_406(server: Server, entry: Any, problem: str):
    answer = send_entries(server, "op-malformed", [entry])
    assert answer.status_code == 406, answer.text
    assert problem in answer.json()["error"]["message"]
