"""Photo batches: one partition key per folder that holds photos."""


from assets.partitions import batch_key, batches_in, fingerprint


def test_batch_key_is_the_folder_path_from_the_root_parent(tmp_path):
    root = tmp_path / "Pictures"
    assert batch_key(root, root) == "Pictures"
    assert batch_key(root / "holidays" / "2023 Rome", root) == "Pictures/holidays/2023_Rome"


def test_batch_key_keeps_only_safe_characters(tmp_path):
    root = tmp_path / "photos"
    assert batch_key(root / "é & ü", root) == "photos/_"
    assert batch_key(root / "...", root) == "photos/_"  # Dagster refuses "..." in a partition key


def test_each_folder_with_photos_is_a_batch(datasets, tmp_path):
    source = sorted((datasets / "five_celebs" / "Madonna").iterdir())
    root = tmp_path / "photos"
    (root / "a" / "b").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "top.jpg").symlink_to(source[0])
    (root / "a" / "b" / "one.jpg").symlink_to(source[1])
    (root / "a" / "b" / "notes.txt").write_text("not a photo")
    batches = batches_in(root)
    assert batches == {"photos": [root / "top.jpg"], "photos/a/b": [root / "a" / "b" / "one.jpg"]}


def test_fingerprint_changes_when_a_photo_is_added(datasets, tmp_path):
    source = sorted((datasets / "five_celebs" / "Madonna").iterdir())
    (tmp_path / "one.jpg").symlink_to(source[0])
    before = fingerprint([tmp_path / "one.jpg"])
    (tmp_path / "two.jpg").symlink_to(source[1])
    assert fingerprint([tmp_path / "one.jpg"]) == before
    assert fingerprint([tmp_path / "one.jpg", tmp_path / "two.jpg"]) != before
