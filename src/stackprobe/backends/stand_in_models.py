"""moto's models, reached for stand-ins: the one module that makes objects with the identifier a stack uses.

Each kind is made in the moto backend that serves it for the request's account and region: where moto looks
it up. moto answers every call in the account of the caller's key (the emulator's), so an ACM certificate,
KMS key or secret named by an ARN of another account is kept in the emulator's own account under that exact
ARN (elbv2 and elb look a listener's certificate up there); an IAM role named by another account's ARN is
made in that account (where STS assume-role finds it).

Where moto's API can take the identifier (a role or a parameter by name, a bucket), its backend methods are
called. Where the identifier must be exact and moto generates it, the object is made by moto and then given
the identifier: a certificate or KMS key re-keyed, a hosted zone id through moto's own custom-id manager, a
VPC, subnet or security group id by handing moto's id generator the wanted id for the one call that makes it
(`_exact_id`), an AMI built from moto's `Ami` model. Everything used is listed in `SYMBOLS`: `check_shape`
(run by tests/harness/test_stand_ins.py) names the first one a new moto lacks, as a compatibility patch does.

It also holds the route's body (`answer`, `holding`) and the registry of the stand-ins made in this process,
which the route forgets when moto is reset (`forget`). Importing this module imports no moto: each maker
imports what it uses when it runs.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from stackprobe.backends.stand_ins import Made, StandInRequest, Status
from stackprobe.errors import MotoShapeChanged

# Every moto symbol this module uses: (module, dotted attribute).
SYMBOLS = (
    ("moto.acm.models", "acm_backends"),
    ("moto.acm.models", "CertBundle.generate_cert"),
    ("moto.iam.models", "iam_backends"),
    ("moto.iam.models", "IAMBackend.create_role"),
    ("moto.route53.models", "route53_backends"),
    ("moto.route53.models", "HostedZoneIdentifier"),
    ("moto.utilities.id_generator", "moto_id_manager"),
    ("moto.kms.models", "kms_backends"),
    ("moto.kms.models", "KmsBackend.create_key"),
    ("moto.kms.models", "KmsBackend.create_alias"),
    ("moto.secretsmanager.models", "secretsmanager_backends"),
    ("moto.ssm.models", "ssm_backends"),
    ("moto.ec2.models", "ec2_backends"),
    ("moto.ec2.models.amis", "Ami"),
    ("moto.ec2.utils", "random_ami_id"),
    ("moto.ec2.models.vpcs", "random_vpc_id"),
    ("moto.ec2.models.subnets", "random_subnet_id"),
    ("moto.ec2.models.security_groups", "random_security_group_id"),
    ("moto.s3.models", "s3_backends"),
)
PARTITION = "aws"
DESCRIPTION = "stackprobe stand-in for an object the configuration names but does not create"
# A role stood in for an external one may be assumed by the services a stack hands roles to.
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Service": [
                        "ec2.amazonaws.com",
                        "ecs-tasks.amazonaws.com",
                        "lambda.amazonaws.com",
                        "states.amazonaws.com",
                    ]
                },
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# The owner of the AMIs moto loads as Amazon's (what `owners = ["amazon"]` finds).
AMAZON_OWNER = "137112412989"
_ID_LOCK = threading.Lock()


class Unsatisfiable(Exception):
    """No object can be made that the request's lookup would find (a filter a stand-in cannot meet)."""


def _symbol(module: str, path: str) -> Any:
    owner: Any = importlib.import_module(module)
    for name in path.split("."):
        owner = getattr(owner, name)
    return owner


def check_shape() -> None:
    """Raise MotoShapeChanged naming the first symbol of `SYMBOLS` the installed moto lacks."""
    for module, path in SYMBOLS:
        try:
            _symbol(module, path)
        except (ImportError, AttributeError) as error:
            raise MotoShapeChanged(
                f"stand-ins cannot be made on this moto: {module}.{path} does not exist",
                "install moto in the supported range (see `stackprobe compat`), or update "
                f"{__name__} to the installed moto and run tests/harness/test_stand_ins.py; meanwhile "
                "--no-stand-ins and a prerequisites configuration make the objects instead.",
                detail=str(error),
            ) from error


def make(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    """Make (or find) the object `request` asks for; `refs`: data-source address -> object id made earlier."""
    maker = MAKERS.get(request.kind)
    if maker is None:
        return Made(request, Status.IMPOSSIBLE, f"stackprobe makes no stand-in of kind {request.kind}")
    try:
        return maker(request, refs)
    except Unsatisfiable as exc:
        return Made(request, Status.IMPOSSIBLE, str(exc))
    except (ImportError, AttributeError) as exc:
        try:
            check_shape()
        except MotoShapeChanged as changed:
            return Made(request, Status.IMPOSSIBLE, changed.problem)
        return Made(request, Status.IMPOSSIBLE, f"moto refused it: {type(exc).__name__}: {exc}")
    except Exception as exc:  # moto's own validation (a malformed id, say): named, never raised into the route
        return Made(request, Status.IMPOSSIBLE, f"moto refused it: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _exact_id(module: str, function: str, wanted: str) -> Iterator[None]:
    """moto's id generator `module.function` answers `wanted` once, for the one call being made."""
    owner = importlib.import_module(module)
    original = getattr(owner, function)
    given: list[str] = []

    def once(*args: Any, **kwargs: Any) -> Any:
        if not given:
            given.append(wanted)
            return wanted
        return original(*args, **kwargs)

    with _ID_LOCK:
        setattr(owner, function, once)
        try:
            yield
        finally:
            setattr(owner, function, original)


def _exists(request: StandInRequest, object_id: str, *identifiers: str) -> Made:
    return Made(request, Status.EXISTS, "", object_id, tuple(i for i in (object_id, *identifiers) if i))


def _created(request: StandInRequest, object_id: str, identifiers: tuple[str, ...], **listed: list[str]) -> Made:
    kinds = {kind.replace("_", " "): tuple(ids) for kind, ids in listed.items() if ids}
    every = tuple(dict.fromkeys([object_id, *identifiers, *(i for ids in kinds.values() for i in ids)]))
    return Made(request, Status.CREATED, "", object_id, every, kinds)


# -- ACM, IAM, Route 53 --------------------------------------------------------------------------------


def _certificate(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _symbol("moto.acm.models", "acm_backends")[request.account][request.region]
    arn = request.args.get("arn")
    domain = str(request.args.get("domain") or "stand-in.example.com")
    for existing in backend._certificates.values():
        if existing.arn == arn or (not arn and domain in (existing.common_name, *existing.sans)):
            return _exists(request, existing.arn)
    bundle = _symbol("moto.acm.models", "CertBundle").generate_cert(domain, request.account, request.region)
    bundle.status = "ISSUED"  # what a certificate already in use is
    if arn:
        bundle.arn = str(arn)
    backend._certificates[bundle.arn] = bundle
    return _created(request, bundle.arn, (), acm_certificate=[bundle.arn])


def _role(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _symbol("moto.iam.models", "iam_backends")[request.account][PARTITION]
    name = str(request.args["name"])
    for role in backend.get_roles():
        if role.name == name:
            return _exists(request, role.name, role.arn, f"role/{role.name}")
    role = backend.create_role(
        role_name=name,
        assume_role_policy_document=TRUST_POLICY,
        path=str(request.args.get("path") or "/"),
        permissions_boundary=None,
        description=DESCRIPTION,
        tags=[],
        max_session_duration=None,
    )
    return _created(request, role.name, (role.arn, f"role/{role.name}"), iam_role=[role.name])


def _zone(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _symbol("moto.route53.models", "route53_backends")[request.account][PARTITION]
    zone_id = str(request.args.get("zone_id") or "").removeprefix("/hostedzone/")
    name = str(request.args.get("name") or "example.com").rstrip(".") + "."
    private = bool(request.args.get("private"))
    for zone in backend.zones.values():
        if zone.resource_id == zone_id or (not zone_id and zone.name == name and zone.private_zone == private):
            return _exists(request, zone.resource_id, zone.id)
    identifier = _symbol("moto.route53.models", "HostedZoneIdentifier")(request.account, name, None)
    manager = _symbol("moto.utilities.id_generator", "moto_id_manager")
    if zone_id:
        manager.set_custom_id(identifier, zone_id)
    try:
        zone = backend.create_hosted_zone(name, private_zone=private, comment=DESCRIPTION)
    finally:
        manager.unset_custom_id(identifier)
    if zone_id and zone.resource_id != zone_id:
        raise Unsatisfiable(f"moto gave the hosted zone the id {zone.resource_id}, not {zone_id}")
    return _created(request, zone.resource_id, (zone.id,), hosted_zone=[zone.id, zone.resource_id])


# -- KMS, Secrets Manager, SSM ------------------------------------------------------------------------


def _new_key(request: StandInRequest) -> Any:
    backend = _symbol("moto.kms.models", "kms_backends")[request.account][request.region]
    return backend, backend.create_key(
        policy=None, key_usage="ENCRYPT_DECRYPT", key_spec="SYMMETRIC_DEFAULT", description=DESCRIPTION, tags=None
    )


def _key(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    key_id = str(request.args["key_id"])
    backend = _symbol("moto.kms.models", "kms_backends")[request.account][request.region]
    if key_id in backend.keys:
        return _exists(request, key_id, backend.keys[key_id].arn)
    backend, key = _new_key(request)
    backend.keys.pop(key.id)
    key.id = key_id
    key.arn = str(request.args.get("arn") or f"arn:{PARTITION}:kms:{request.region}:{request.account}:key/{key_id}")
    backend.keys[key_id] = key
    return _created(request, key_id, (key.arn,), kms_key=[key_id])


def _alias(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    alias = str(request.args["alias"])
    backend = _symbol("moto.kms.models", "kms_backends")[request.account][request.region]
    if backend.alias_exists(alias):
        return _exists(request, alias)
    backend, key = _new_key(request)
    made = backend.create_alias(key.id, alias)
    return _created(request, key.id, (alias, made.alias_arn, key.arn), kms_key=[key.id])


def _secret(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _symbol("moto.secretsmanager.models", "secretsmanager_backends")[request.account][request.region]
    name, arn = str(request.args["name"]), request.args.get("arn")
    existing = backend.secrets.get(str(arn or name))
    if existing is not None:
        return _exists(request, existing.arn, existing.name)
    backend.create_secret(
        name=name,
        secret_string="stand-in",
        secret_binary=None,
        description=DESCRIPTION,
        tags=None,
        kms_key_id=None,
        client_request_token=None,
        replica_regions=[],
        force_overwrite=False,
    )
    secret = backend.secrets[name]
    if arn:
        secret.arn = str(arn)
    return _created(request, secret.arn, (secret.name,), secret=[secret.arn])


def _parameter(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _symbol("moto.ssm.models", "ssm_backends")[request.account][request.region]
    name = str(request.args["name"])
    if backend.get_parameter(name) is not None:
        return _exists(request, name)
    made = backend.put_parameter(
        name=name,
        description=DESCRIPTION,
        value="stand-in",
        parameter_type="String",
        allowed_pattern=None,
        keyid=None,
        overwrite=False,
        tags=[],
        data_type="text",
        tier=None,
        policies=None,
    )
    arn = f"arn:{PARTITION}:ssm:{request.region}:{request.account}:parameter/{made.name.lstrip('/')}"
    return _created(request, name, (arn,))


# -- EC2 and S3 ----------------------------------------------------------------------------------------


def _ec2(request: StandInRequest) -> Any:
    return _symbol("moto.ec2.models", "ec2_backends")[request.account][request.region]


def _filters(request: StandInRequest) -> dict[str, list[str]]:
    raw = request.args.get("filters") or {}
    return {str(name): [str(v) for v in values] for name, values in raw.items()}


def _matching(value: str) -> str:
    """A value an EC2 filter value (which may hold wildcards) matches."""
    return value.replace("*", "stand-in").replace("?", "x")


def _split(filters: Mapping[str, list[str]], understood: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(tags, other settings by `understood`'s name) a new object needs to match `filters`; Unsatisfiable for a
    filter a stand-in cannot be made to meet."""
    tags: dict[str, str] = {}
    settings: dict[str, str] = {}
    for name, values in filters.items():
        if not values:
            continue
        if name.startswith("tag:"):
            tags[name.removeprefix("tag:")] = _matching(values[0])
        elif name in understood:
            settings[understood[name]] = _matching(values[0])
        else:
            raise Unsatisfiable(f"the filter {name} = {values} cannot be met by a stand-in")
    return tags, settings


def _placed(
    request: StandInRequest, refs: Mapping[str, str], understood: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str], str, dict[str, list[str]]]:
    """What a subnet or security group looked up by `request` needs: (tags, settings, its VPC's id, the lookup's
    filters). The VPC is the one a `vpc_ref` names (another data source's, stood in before it), the filters' or
    the arguments' `vpc-id`, else the region's default VPC."""
    filters = _filters(request)
    tags, settings = _split(filters, understood)
    ref = str(request.args.get("vpc_ref") or "")
    if ref and ref not in refs:
        raise Unsatisfiable(f"{ref}, which it is looked up in, could not be stood in")
    vpc_id = refs[ref] if ref else str(settings.get("vpc") or request.args.get("vpc_id") or "")
    lookup = {**filters, "vpc-id": [vpc_id]} if vpc_id else filters
    return tags, settings, vpc_id or _ec2(request).default_vpc.id, lookup


_VPC_FILTERS = {"cidr": "cidr", "cidr-block": "cidr", "cidrBlock": "cidr", "state": "state", "vpc-id": "id"}


def _vpc(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _ec2(request)
    filters = _filters(request)
    wanted = str(request.args.get("vpc_id") or "")
    if request.args.get("default"):
        found = backend.describe_vpcs(filters={"is-default": ["true"]})
        if found:
            return _exists(request, found[0].id)
        raise Unsatisfiable("the emulator's region has no default VPC")
    found = [v for v in backend.vpcs.values() if v.id == wanted] if wanted else backend.describe_vpcs(filters=filters)
    if found:
        return _exists(request, found[0].id)
    tags, settings = _split(filters, _VPC_FILTERS)
    wanted = wanted or settings.get("id", "")
    taken = [ipaddress.ip_network(v.cidr_block) for v in backend.vpcs.values()]
    cidr = settings.get("cidr") or next(
        str(n) for n in (ipaddress.ip_network(f"10.{i}.0.0/16") for i in range(200, 256)) if n not in taken
    )
    made_tags = [{"Key": k, "Value": v} for k, v in tags.items()]
    with _exact_id("moto.ec2.models.vpcs", "random_vpc_id", wanted) if wanted else contextlib.nullcontext():
        vpc = backend.create_vpc(cidr_block=cidr, tags=made_tags)
    if wanted and vpc.id != wanted:
        raise Unsatisfiable(f"moto gave the VPC the id {vpc.id}, not {wanted}")
    groups = [g.id for g in backend.groups.get(vpc.id, {}).values()]
    tables = [t.id for t in backend.route_tables.values() if t.vpc_id == vpc.id]
    return _created(request, vpc.id, (), vpc=[vpc.id], security_group=groups, route_table=tables)


_SUBNET_FILTERS = {
    "vpc-id": "vpc",
    "vpcId": "vpc",
    "cidr": "cidr",
    "cidr-block": "cidr",
    "cidrBlock": "cidr",
    "availability-zone": "zone",
    "availabilityZone": "zone",
    "state": "state",
    "subnet-id": "id",
    "default-for-az": "default",
    "defaultForAz": "default",
}


def _free_cidrs(backend: Any, vpc_id: str, count: int) -> list[str]:
    vpc = backend.get_vpc(vpc_id)
    taken = [s.cidr for s in backend.describe_subnets(filters={"vpc-id": [vpc_id]})]
    network = ipaddress.ip_network(vpc.cidr_block)
    size = min(network.prefixlen + 4, 28)
    free = [str(n) for n in network.subnets(new_prefix=size) if not any(n.overlaps(t) for t in taken)]
    if len(free) < count:
        raise Unsatisfiable(f"VPC {vpc_id} has no room for {count} more subnets")
    return free[:count]


def _subnet(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _ec2(request)
    count = int(request.args.get("count") or 1)
    wanted = str(request.args.get("subnet_id") or "")
    tags, settings, vpc_id, lookup = _placed(request, refs, _SUBNET_FILTERS)
    found = [s for s in backend.describe_subnets() if s.id == wanted] if wanted else []
    found = found or ([] if wanted else backend.describe_subnets(filters=lookup))
    if len(found) >= count:
        return _exists(request, found[0].id, *(s.id for s in found[1:]))
    wanted = wanted or settings.get("id", "")
    zones = [settings["zone"]] * count if "zone" in settings else [f"{request.region}{z}" for z in "abc"][:count]
    made: list[str] = []
    for cidr, zone in zip(_free_cidrs(backend, vpc_id, count), zones, strict=False):
        exact = _exact_id("moto.ec2.models.subnets", "random_subnet_id", wanted) if wanted and not made else None
        with exact or contextlib.nullcontext():
            subnet = backend.create_subnet(
                vpc_id, settings.get("cidr") or cidr, availability_zone=zone, tags={"subnet": tags}
            )
        made.append(subnet.id)
    if wanted and made[0] != wanted:
        raise Unsatisfiable(f"moto gave the subnet the id {made[0]}, not {wanted}")
    return _created(request, made[0], tuple(made[1:]), subnet=made)


_GROUP_FILTERS = {"group-name": "name", "vpc-id": "vpc", "group-id": "id", "description": "description"}


def _security_group(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _ec2(request)
    wanted = str(request.args.get("group_id") or "")
    if wanted and backend.get_security_group_from_id(wanted) is not None:
        return _exists(request, wanted)
    tags, settings, vpc_id, lookup = _placed(request, refs, _GROUP_FILTERS)
    found = [] if wanted else backend.describe_security_groups(filters=lookup)
    if found:
        return _exists(request, found[0].id)
    wanted = wanted or settings.get("id", "")
    name = settings.get("name") or f"stackprobe-stand-in-{len(backend.groups.get(vpc_id, {}))}"
    exact = _exact_id("moto.ec2.models.security_groups", "random_security_group_id", wanted) if wanted else None
    with exact or contextlib.nullcontext():
        group = backend.create_security_group(
            name, settings.get("description") or DESCRIPTION, vpc_id=vpc_id, tags=tags or None
        )
    if wanted and group.id != wanted:
        raise Unsatisfiable(f"moto gave the security group the id {group.id}, not {wanted}")
    return _created(request, group.id, (), security_group=[group.id])


_AMI_FILTERS = {
    "name": "name",
    "architecture": "architecture",
    "virtualization-type": "virtualization_type",
    "root-device-type": "root_device_type",
    "owner-alias": "owner_alias",
    "owner-id": "owner_id",
    "state": "state",
    "image-type": "image_type",
    "image-id": "image_id",
    "platform": "platform",
}


def _ami_owner(owners: list[str], account: str) -> dict[str, str]:
    """The owner fields of a new AMI that `owners` (ids, `self`, `amazon`, ...) finds."""
    owner = owners[0] if owners else "self"
    if owner == "self":
        return {"owner_id": account}
    if re.fullmatch(r"\d{12}", owner):
        return {"owner_id": owner}
    return {"owner_alias": owner, "owner_id": AMAZON_OWNER if owner == "amazon" else account}


def _ami(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backend = _ec2(request)
    wanted = str(request.args.get("image_id") or "")
    owners = [str(o) for o in request.args.get("owners") or []]
    filters = _filters(request)
    if wanted and wanted in backend.amis:
        return _exists(request, wanted)
    pattern = str(request.args.get("name_regex") or "")
    if not wanted:
        images = backend.describe_images(filters=filters, owners=owners or None)
        found = [image for image in images if re.search(pattern, image.name or "")]
        if found:
            return _exists(request, found[0].id)
    tags, settings = _split(filters, _AMI_FILTERS)
    wanted = wanted or settings.pop("image_id", "") or _symbol("moto.ec2.utils", "random_ami_id")()
    name = settings.pop("name", "") or f"stackprobe-stand-in-{wanted}"
    if pattern and not re.search(pattern, name):
        raise Unsatisfiable(f"no name made from the filters ({name}) matches name_regex {pattern}")
    if settings.pop("state", "available") != "available" or settings.pop("image_type", "machine") != "machine":
        raise Unsatisfiable("a stand-in AMI is an available machine image")
    fields = {
        "virtualization_type": "hvm",
        "architecture": "x86_64",
        "root_device_type": "ebs",
        **_ami_owner(owners, request.account),
        **settings,
    }
    ami = _symbol("moto.ec2.models.amis", "Ami")(
        backend,
        wanted,
        name=name,
        description=DESCRIPTION,
        public=True,
        root_device_name="/dev/xvda",
        region_name=f"{request.region}a",
        tags=tags or None,
        **fields,
    )
    backend.amis[wanted] = ami
    return _created(request, wanted, ())


def _bucket(request: StandInRequest, refs: Mapping[str, str]) -> Made:
    backends = _symbol("moto.s3.models", "s3_backends")
    name = str(request.args["bucket"])
    if name in backends.bucket_accounts:
        return _exists(request, name, f"arn:{PARTITION}:s3:::{name}")
    backends[request.account][PARTITION].create_bucket(name, request.region)
    return _created(request, name, (f"arn:{PARTITION}:s3:::{name}",), s3_bucket=[name])


MAKERS: dict[str, Callable[[StandInRequest, Mapping[str, str]], Made]] = {
    "acm_certificate": _certificate,
    "iam_role": _role,
    "route53_zone": _zone,
    "kms_key": _key,
    "kms_alias": _alias,
    "secret": _secret,
    "ssm_parameter": _parameter,
    "ami": _ami,
    "vpc": _vpc,
    "subnet": _subnet,
    "security_group": _security_group,
    "s3_bucket": _bucket,
}


# -- the route's body: runs inside the emulator's process ---------------------------------------------

# Every stand-in made in this process, by request key: moto's backends are process-wide, and so is this.
_REGISTRY: dict[str, Made] = {}
_REGISTRY_LOCK = threading.Lock()


def answer(raw: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The route's answer to a POSTed list of requests, made in order (a request may name an earlier one's
    object through its `ref`). One at a time: moto's models are shared by every request thread."""
    answers: list[dict[str, Any]] = []
    with _REGISTRY_LOCK:
        refs = {made.request.ref: made.object_id for made in _REGISTRY.values() if made.request.ref}
        for item in raw:
            request = StandInRequest.from_json(item)
            made = _REGISTRY.get(request.key())
            if made is not None:
                made = Made(request, Status.STANDING, "", made.object_id, made.identifiers, made.listed)
            else:
                made = make(request, refs)
                if made.status == Status.CREATED:
                    _REGISTRY[request.key()] = made
            if request.ref and made.object_id:
                refs[request.ref] = made.object_id
            answers.append(made.to_json())
    return answers


def holding() -> list[dict[str, Any]]:
    """The route's answer to a GET: every stand-in this emulator holds."""
    with _REGISTRY_LOCK:
        return [made.to_json() for made in _REGISTRY.values()]


def forget() -> None:
    """moto is being reset: the objects go, and so must their names."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
