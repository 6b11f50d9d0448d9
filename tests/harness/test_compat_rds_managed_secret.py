"""RDS: the secret RDS makes for a managed master password names the master user, as AWS's does, and is
encrypted with the AWS managed key of Secrets Manager (never counted as one the stack leaked).

A task definition injects `<secret>:username::` and `<secret>:password::`; against a real database behind the
endpoint (`--datastore`), moto's fixed `admin` user logged in as nobody the database has.

Reproduce: .venv/bin/pytest tests/harness/test_compat_rds_managed_secret.py -q -n 0 -p no:cacheprovider
"""

from __future__ import annotations

import json

import pytest

from stackprobe.backends.moto import EmbeddedMoto

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("rds-managed-secret-username", "kms-default-keys-aws-managed")


def test_the_managed_master_secret_names_the_master_user_with_a_generated_password() -> None:
    moto = EmbeddedMoto()
    backend = moto.start()
    try:
        created = backend.client("rds").create_db_instance(
            DBInstanceIdentifier="managed-secret",
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="shop_admin",
            ManageMasterUserPassword=True,
        )["DBInstance"]
        arn = created["MasterUserSecret"]["SecretArn"]
        secret = json.loads(backend.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        backend.client("rds").describe_db_instances()  # reads the secret's key: moto makes alias/aws/secretsmanager's
        # That key alone: moto's state is per process, and another test of this xdist worker may hold keys of its own.
        kms = backend.client("kms")
        manager = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyManager"]
    finally:
        moto.stop()
    assert secret["username"] == "shop_admin"
    assert secret["password"] != "P@55w0rd!" and len(secret["password"]) >= 16
    # The default key of Secrets Manager is AWS's, never counted as a key the stack left behind.
    assert manager == "AWS"
