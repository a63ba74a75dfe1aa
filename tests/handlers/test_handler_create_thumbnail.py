"""create_thumbnail run for real: Pillow crops images it generated itself, moto's S3 holds the
uploads and receives the thumbnails."""

import io
import json

import pipeline_common
import pytest
from handler_testkit import BUCKET, REPO, import_fresh, log_lines
from moto.events.models import EventPattern

PIL = pytest.importorskip("PIL", reason="Pillow is a test dependency: pip install '.[test]'")
from PIL import Image  # noqa: E402

RED, GREEN, BLUE, GREY = (220, 20, 20), (20, 200, 20), (20, 20, 220), (128, 128, 128)


@pytest.fixture
def create_thumbnail(aws, monkeypatch):
    monkeypatch.delenv("THUMBNAIL_PREFIX", raising=False)
    return import_fresh("create_thumbnail")


def picture(size=(400, 300), squares=(), mode="RGB", background=GREY):
    """An image of `background` with coloured squares [(box, colour)], box as shares."""
    img = Image.new("RGB", size, background)
    width, height = size
    for (left, top, w, h), colour in squares:
        area = (round(left * width), round(top * height),
                round((left + w) * width), round((top + h) * height))
        img.paste(colour, area)
    return img.convert(mode) if mode != "RGB" else img


def encode(img, fmt, **options):
    out = io.BytesIO()
    img.save(out, format=fmt, **options)
    return out.getvalue()


def upload(stack, key, body, faces):
    event = stack.upload(key, body=body)
    return {
        "bucket": BUCKET,
        "key": key,
        "version": event["detail"]["object"].get("version-id"),
        "etag": None,
        "size": len(body),
        "sequencer": None,
        "eventTime": None,
        "detectedAt": "2026-11-28T09:15:43.512Z",
        "faceCount": len(faces),
        "faces": [{"box": box, "conf": 99.0} for box in faces],
    }


def fetch(stack, key):
    obj = stack.s3.get_object(Bucket=BUCKET, Key=key)
    assert obj["ContentType"] == "image/jpeg"
    img = Image.open(io.BytesIO(obj["Body"].read()))
    assert img.format == "JPEG"
    img.load()
    return img


def close_to(pixel, colour, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def centre(img):
    return img.getpixel((img.width // 2, img.height // 2))


def test_each_face_becomes_a_jpeg_thumbnail_under_the_prefix(stack, create_thumbnail, capsys):
    red_box, blue_box = [0.1, 0.2, 0.2, 0.3], [0.6, 0.5, 0.1, 0.1]
    body = encode(picture(squares=[(red_box, RED), (blue_box, BLUE)]), "JPEG", quality=95)
    summary = upload(stack, "uploads/team photo 2026.jpg", body, [red_box, blue_box])

    out = create_thumbnail.lambda_handler(summary, None)

    version = summary["version"]
    assert out == {
        "keys": [
            f"thumbnails/uploads/team photo 2026.jpg/{version}/face-001.jpg",
            f"thumbnails/uploads/team photo 2026.jpg/{version}/face-002.jpg",
        ],
        "skipped": 0,
    }
    red, blue = (fetch(stack, key) for key in out["keys"])
    assert close_to(centre(red), RED)
    assert close_to(centre(blue), BLUE)
    # The box plus a fifth of it on each side: 80 x 90 px box -> 112 x 126 px.
    assert red.size == (112, 126)
    assert close_to(red.getpixel((2, 2)), GREY)  # the margin shows what is around the face
    (line,) = log_lines(capsys)
    assert line["handler"] == "create_thumbnail"
    assert line["thumbnails"] == 2


def test_faces_at_the_edges_are_clipped_to_the_image(stack, create_thumbnail):
    # Rekognition's boxes reach past the frame for faces the frame cuts off.
    corner, right_edge = [-0.05, -0.1, 0.2, 0.3], [0.9, 0.4, 0.15, 0.2]
    body = encode(picture(squares=[([0, 0, 0.15, 0.2], RED), ([0.9, 0.4, 0.1, 0.2], GREEN)]),
                  "JPEG", quality=95)
    summary = upload(stack, "uploads/edges.jpg", body, [corner, right_edge])

    out = create_thumbnail.lambda_handler(summary, None)

    first, second = (fetch(stack, key) for key in out["keys"])
    assert first.size == (76, 78)  # from the corner to the box's right/bottom plus margin
    assert close_to(first.getpixel((10, 10)), RED)
    assert second.width == 400 - int(400 * (0.9 - 0.15 * 0.2))
    assert close_to(second.getpixel((second.width - 3, second.height // 2)), GREEN)


def test_tiny_and_huge_boxes(stack, create_thumbnail):
    tiny, huge = [0.5, 0.5, 0.0005, 0.0005], [-0.5, -0.5, 2.0, 2.0]
    body = encode(picture(size=(1200, 800)), "JPEG")
    summary = upload(stack, "uploads/sizes.jpg", body, [tiny, huge])

    out = create_thumbnail.lambda_handler(summary, None)

    small, large = (fetch(stack, key) for key in out["keys"])
    assert 1 <= small.width <= 3 and 1 <= small.height <= 3  # never enlarged, never empty
    assert large.size == (200, 133)  # the whole image, scaled to 200 px on its longer side


def test_unusable_and_outside_boxes_are_skipped(stack, create_thumbnail):
    body = encode(picture(), "JPEG")
    faces = [[1.2, 0.1, 0.1, 0.1], [0.1, 0.1, 0.0, 0.2], [0.2, 0.2, 0.2, 0.2]]
    summary = upload(stack, "uploads/odd.jpg", body, faces)
    summary["faces"].append({"conf": 99.0})  # a face record without a box
    summary["faceCount"] = 4

    out = create_thumbnail.lambda_handler(summary, None)

    assert out["skipped"] == 3
    # Numbering follows the face records, so face-003 is the third face of the item.
    assert [k.rsplit("/", 1)[1] for k in out["keys"]] == ["face-003.jpg"]


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "L", "I;16"])
def test_png_in_every_common_mode(stack, create_thumbnail, mode):
    box = [0.25, 0.25, 0.5, 0.5]
    img = picture(size=(200, 200), squares=[(box, RED)], mode=mode if mode != "I;16" else "L")
    if mode == "RGBA":
        img.putalpha(Image.new("L", img.size, 0))  # fully transparent
        img.paste(Image.new("RGBA", (100, 100), (*RED, 255)), (50, 50))
    if mode == "I;16":
        img = img.convert("I").point(lambda v: v * 256).convert("I;16")
    body = encode(img, "PNG")
    summary = upload(stack, f"uploads/{mode.replace(';', '')}.png", body, [box])

    out = create_thumbnail.lambda_handler(summary, None)

    thumb = fetch(stack, out["keys"][0])
    assert thumb.mode == "RGB"
    if mode == "RGBA":
        assert close_to(centre(thumb), RED)
        assert close_to(thumb.getpixel((1, 1)), (255, 255, 255))  # transparent -> white
    elif mode in ("L", "LA", "I;16"):
        grey = round(0.299 * RED[0] + 0.587 * RED[1] + 0.114 * RED[2])
        assert close_to(centre(thumb), (grey, grey, grey))
    else:
        assert close_to(centre(thumb), RED)


def test_exif_orientation_is_applied_before_cropping(stack, create_thumbnail):
    # Upright the image is 300 x 400 with a red square at the top left; the camera stored it
    # lying on its side with EXIF Orientation 6 ("rotate 90 degrees clockwise to view").
    # Rekognition's boxes describe the upright image.
    box = [0.1, 0.1, 0.3, 0.2]
    upright = picture(size=(300, 400), squares=[(box, RED)])
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the sensor wrote
    exif = Image.Exif()
    exif[0x0112] = 6
    summary = upload(stack, "uploads/portrait.jpg", encode(stored, "JPEG", exif=exif, quality=95),
                     [box])

    out = create_thumbnail.lambda_handler(summary, None)

    thumb = fetch(stack, out["keys"][0])
    assert thumb.size == (126, 112)  # 90 x 80 px box plus margins, upright
    assert close_to(centre(thumb), RED)
    assert "exif" not in thumb.info  # the upload's metadata stays with the upload


def test_image_without_faces_is_not_even_read(stack, create_thumbnail):
    summary = upload(stack, "uploads/empty.jpg", b"not read", [])
    stack.s3.delete_object(Bucket=BUCKET, Key="uploads/empty.jpg", VersionId=summary["version"])

    assert create_thumbnail.lambda_handler(summary, None) == {"keys": [], "skipped": 0}


def test_unversioned_object_has_no_version_folder(stack, create_thumbnail):
    box = [0.2, 0.2, 0.3, 0.3]
    summary = upload(stack, "uploads/plain.png", encode(picture(), "PNG"), [box])
    summary["version"] = None
    out = create_thumbnail.lambda_handler(summary, None)

    assert out["keys"] == ["thumbnails/uploads/plain.png/face-001.jpg"]


def test_not_an_image_is_unsupported(stack, create_thumbnail):
    summary = upload(stack, "uploads/fake.jpg", b"plain text, not a JPEG", [[0.1, 0.1, 0.2, 0.2]])
    with pytest.raises(pipeline_common.UnsupportedImageError, match="cannot be read"):
        create_thumbnail.lambda_handler(summary, None)


def test_deleted_version_is_unsupported(stack, create_thumbnail):
    summary = upload(stack, "uploads/gone.jpg", encode(picture(), "JPEG"), [[0.1, 0.1, 0.2, 0.2]])
    stack.s3.delete_object(Bucket=BUCKET, Key="uploads/gone.jpg", VersionId=summary["version"])
    with pytest.raises(pipeline_common.UnsupportedImageError, match="is gone"):
        create_thumbnail.lambda_handler(summary, None)


def test_key_too_long_for_the_thumbnail_path_is_hashed(create_thumbnail):
    key = "uploads/" + "é" * 505 + ".jpg"  # 1,022 bytes: the longest keys S3 allows
    thumbnail = create_thumbnail.thumbnail_key(key, "v" * 32, 100)
    assert thumbnail.startswith("thumbnails/_h")
    assert thumbnail.endswith("/" + "v" * 32 + "/face-100.jpg")
    assert len(thumbnail.encode()) <= 1024
    assert create_thumbnail.thumbnail_key(key + "x", "v", 1) != create_thumbnail.thumbnail_key(
        key, "v", 1)


def test_prefix_comes_from_the_environment(stack, aws, monkeypatch):
    monkeypatch.setenv("THUMBNAIL_PREFIX", "faces/small/")
    module = import_fresh("create_thumbnail")
    summary = upload(stack, "uploads/p.jpg", encode(picture(), "JPEG"), [[0.1, 0.1, 0.2, 0.2]])

    assert module.lambda_handler(summary, None)["keys"][0].startswith("faces/small/uploads/p.jpg/")


@pytest.mark.parametrize("prefix", ["/thumbnails/", "thumbnails", "a\nb/"])
def test_bad_prefix_fails_at_cold_start(aws, monkeypatch, prefix):
    monkeypatch.setenv("THUMBNAIL_PREFIX", prefix)
    with pytest.raises(pipeline_common.ConfigurationError, match="THUMBNAIL_PREFIX"):
        import_fresh("create_thumbnail")


def test_thumbnails_never_start_the_pipeline_again(create_thumbnail):
    # The stack's rule, filled as `up` fills it: an upload matches, a thumbnail does not.
    text = (REPO / "event_rule.json").read_text(encoding="utf-8")
    text = text.replace("${BucketName}", BUCKET).replace("${UploadsPrefix}", "uploads/")
    pattern = EventPattern.load(text)

    def event(key):
        return {"source": "aws.s3", "detail-type": "Object Created",
                "detail": {"bucket": {"name": BUCKET}, "object": {"key": key}}}

    assert pattern.matches_event(event("uploads/team photo.jpg"))
    for key in ("uploads/team photo.jpg", "uploads/a/b.JPEG", "uploads/x.png"):
        thumbnail = create_thumbnail.thumbnail_key(key, "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd", 1)
        assert not pattern.matches_event(event(thumbnail)), thumbnail
    assert json.loads(text)  # still a valid pattern after filling
