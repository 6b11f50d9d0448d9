"""The boto3 sessions the harness makes share one botocore loader, so a process decodes each data file once."""

from __future__ import annotations

from unittest import mock

import pytest
from botocore.loaders import JSONFileLoader

from stackprobe.backends.base import boto3_session

pytestmark = pytest.mark.harness

NOWHERE = "http://127.0.0.1:9"  # clients are built, never called


def test_sessions_of_other_identities_and_regions_read_no_data_file_again() -> None:
    first = boto3_session("test", "test", "eu-west-1")
    first.client("ec2", endpoint_url=NOWHERE)
    second = boto3_session("another", "another", "us-west-2")
    loader = second._session.get_component("data_loader")
    assert loader is first._session.get_component("data_loader")
    assert len(loader.search_paths) == len(set(loader.search_paths)), loader.search_paths
    with mock.patch.object(JSONFileLoader, "load_file", autospec=True, side_effect=JSONFileLoader.load_file) as read:
        second.client("ec2", endpoint_url=NOWHERE)
    assert [call.args[1] for call in read.call_args_list] == []
