import numpy as np
import pytest

from facegraph.models.align import CROP_SIZE, crop, estimate_transform, ARCFACE_TEMPLATE
from facegraph.models.detection import auto_input_size, letterbox, nms
from facegraph.models.retinaface import anchors_for, decode_boxes, decode_landmarks
from facegraph.models.scrfd import anchor_centres, distance2bbox, distance2kps
from facegraph.images import read_photo


def test_nms_drops_overlaps_and_keeps_best_first():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.1], dtype=np.float32)
    assert nms(boxes, scores, 0.4).tolist() == [1, 2]
    assert nms(boxes, scores, 0.99).tolist() == [1, 0, 2, 3]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.4).tolist() == []


def test_zero_offsets_decode_to_the_anchors():
    anchors = anchors_for(64, 96)
    # 8x12 + 4x6 + 2x3 cells at strides 8/16/32, two sizes each
    assert anchors.shape == ((8 * 12 + 4 * 6 + 2 * 3) * 2, 4)
    boxes = decode_boxes(np.zeros((len(anchors), 4), np.float32), anchors)
    np.testing.assert_allclose(boxes[0], [4 - 8, 4 - 8, 4 + 8, 4 + 8])
    points = decode_landmarks(np.zeros((len(anchors), 10), np.float32), anchors)
    np.testing.assert_allclose(points[:, :2], anchors[:, :2])


def test_scrfd_distances_decode_around_centres():
    centres = anchor_centres(64, 64, 16)
    assert centres.shape == (4 * 4 * 2, 2) and centres[:2].tolist() == [[0, 0], [0, 0]] and centres[2].tolist() == [16, 0]
    np.testing.assert_allclose(distance2bbox(np.array([[10.0, 20.0]]), np.array([[1.0, 2.0, 3.0, 4.0]])), [[9, 18, 13, 24]])
    np.testing.assert_allclose(distance2kps(np.array([[10.0, 20.0]]), np.arange(10.0)[None]), [[10, 21, 12, 23, 14, 25, 16, 27, 18, 29]])


@pytest.mark.parametrize(("height", "width", "expected"), [(250, 250, (256, 256)), (2000, 1000, (640, 320)), (10, 10, (32, 32))])
def test_auto_input_size_follows_the_photo(height, width, expected):
    assert auto_input_size(height, width, 640) == expected


def test_letterbox_keeps_aspect_ratio_top_left():
    canvas, factor = letterbox(np.full((100, 50, 3), 200, np.uint8), (64, 64))
    assert factor == pytest.approx(0.64) and canvas[:64, :32].min() == 200 and canvas[:, 33:].max() == 0


def test_alignment_maps_landmarks_onto_the_template():
    landmarks = ARCFACE_TEMPLATE * 2.5 + [40, 10]
    matrix = estimate_transform(landmarks)
    mapped = np.hstack([landmarks, np.ones((5, 1))]) @ matrix.T
    np.testing.assert_allclose(mapped, ARCFACE_TEMPLATE, atol=1e-3)
    assert crop(np.zeros((400, 400, 3), np.uint8), landmarks).shape == (CROP_SIZE, CROP_SIZE, 3)


def test_alignment_rejects_wrong_landmark_shape():
    with pytest.raises(ValueError, match=r"shape \(5, 2\), got \(4, 2\)"):
        estimate_transform(np.zeros((4, 2)))


def test_detector_finds_the_face_of_a_tight_crop(pipeline, datasets):
    # A large face filling the whole picture: SCRFD alone misses it (about 40% of deepface_celebs' faces cropped
    # this way), the retry with a border finds it.
    photo = read_photo(datasets / "deepface_celebs" / "Angelina_Jolie" / "img1.jpg")
    [found] = [pipeline.detector.detect([photo.pixels])[0]]
    x1, y1, x2, y2 = found.boxes[np.argmax(found.scores)].round().astype(int)
    tight = np.ascontiguousarray(photo.pixels[max(0, y1) : y2, max(0, x1) : x2])
    again = pipeline.detector.detect([tight])[0]
    assert len(again) >= 1, f"{pipeline.detector.name} found no face in a {tight.shape[1]}x{tight.shape[0]} tight crop"
    # The face it finds fills most of the crop, in the crop's own coordinates.
    box = again.boxes[np.argmax(again.scores)]
    assert (box[2] - box[0]) > 0.6 * tight.shape[1] and tight.shape[1] > 400


def test_batched_detection_equals_one_at_a_time(pipeline, datasets):
    paths = sorted((datasets / "five_celebs" / "Madonna").iterdir())[:6]
    images = [read_photo(p).pixels for p in paths]
    batched = pipeline.detector.detect(images)
    for image, together in zip(images, batched):
        alone = pipeline.detector.detect([image])[0]
        np.testing.assert_allclose(together.boxes, alone.boxes, atol=1e-2)
        np.testing.assert_allclose(together.landmarks, alone.landmarks, atol=1e-2)
