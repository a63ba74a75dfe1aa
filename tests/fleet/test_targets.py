"""The targets file (issue 9): checked whole before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from facedetect_cli.errors import InputError
from facedetect_cli.fleet.targets import load_targets

ROLE_A = "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"
ROLE_B = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text)
    return path


def test_defaults_apply_and_targets_override(tmp_path):
    path = write(tmp_path, f'''
[defaults]
region = "eu-central-1"
emails = ["ops@example.com"]
external_id = "bootstrap"

[[targets]]
role_arn = "{ROLE_A}"

[[targets]]
name = "b-prod"
role_arn = "{ROLE_B}"
region = "us-east-1"
stack = "faces"
emails = ["b@example.com"]

[[targets]]
profile = "sandbox"
''')
    a, b, sandbox = load_targets(path)
    assert (a.label, a.connection.region, a.connection.role_arn) == (
        "111111111111/eu-central-1", "eu-central-1", ROLE_A)
    assert a.connection.external_id == "bootstrap" and a.config.emails == ("ops@example.com",)
    assert (b.label, b.connection.region, b.config.stack, b.config.emails) == (
        "b-prod", "us-east-1", "faces", ("b@example.com",))
    assert sandbox.connection.profile == "sandbox" and sandbox.connection.role_arn is None
    assert a.account_hint == "111111111111"


@pytest.mark.parametrize(("text", "message"), [
    (f'[[targets]]\nrole_arn = "{ROLE_A}"\nregion = "eu-central-1"\ncolour = "red"\n',
     "unknown key 'colour'"),
    (f'[defaults]\nregoin = "eu-central-1"\n[[targets]]\nrole_arn = "{ROLE_A}"\n',
     "unknown key 'regoin'"),
    (f'[[targets]]\nrole_arn = "{ROLE_A}"\nregion = "eu-central-1"\n'
     f'[[targets]]\nrole_arn = "{ROLE_A}"\nregion = "eu-central-1"\n', "the same target as"),
    (f'[[targets]]\nrole_arn = "{ROLE_A}"\nregion = "mars-north-1"\n', "unknown region"),
    (f'[[targets]]\nrole_arn = "{ROLE_A}"\nregion = "EU"\n', "unknown region"),
    (f'[[targets]]\nrole_arn = "{ROLE_A}"\n', "no region"),
    ('[[targets]]\nregion = "eu-central-1"\n', "needs role_arn or profile"),
    ('[[targets]]\nrole_arn = "not-an-arn"\nregion = "eu-central-1"\n', "not an IAM role ARN"),
    (f'[[targets]]\nrole_arn = "{ROLE_A}"\nregion = "eu-central-1"\nstack = "Bad"\n',
     "invalid stack name"),
    (f'[[targets]]\nrole_arn = "{ROLE_A}"\nregion = "eu-central-1"\nemails = ["x"]\n',
     "invalid e-mail"),
    ("[defaults]\nregion = \n", "not valid TOML"),
    ('[defaults]\nregion = "eu-central-1"\n', "no [[targets]]"),
])
def test_bad_files_are_refused_before_anything_runs(tmp_path, text, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_targets(write(tmp_path, text), known_regions={"eu-central-1", "us-east-1"})


def test_the_same_account_in_two_regions_or_two_stacks_is_fine(tmp_path):
    path = write(tmp_path, f'''
[[targets]]
role_arn = "{ROLE_A}"
region = "eu-central-1"
[[targets]]
role_arn = "{ROLE_A}"
region = "us-east-1"
[[targets]]
role_arn = "{ROLE_A}"
region = "us-east-1"
stack = "other"
''')
    assert len(load_targets(path)) == 3


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(InputError, match="targets file not found"):
        load_targets(tmp_path / "nope.toml")
