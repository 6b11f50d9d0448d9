"""How many connections an RDS instance accepts: `max_connections` from its parameter group or its class.

The connection-exhaustion incident this guards against is arithmetic: every task holds a pool, and
the sum of the pools at maximum scale must fit in `max_connections`. RDS does not report the effective
value through its API; it is either set in the instance's parameter group (a number, or a formula
over `DBInstanceClassMemory` such as `{DBInstanceClassMemory/9531392}`), or left to the engine
default, which is the same kind of formula:

- PostgreSQL: `LEAST({DBInstanceClassMemory/9531392}, 5000)`
- MySQL and MariaDB: `{DBInstanceClassMemory/12582880}`

`DBInstanceClassMemory` is not the nominal memory of the class: RDS subtracts what the operating system
and its own agents keep. AWS does not publish that amount. This module approximates it as
`nominal - (200 MiB + 3 % of nominal)`, which reproduces the commonly observed defaults (db.t3.micro:
87 on PostgreSQL, 66 on MySQL; db.t3.medium: about 415 and 314). The result is an estimate and every
evidence line says where the number came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

GIB = 1024**3
MIB = 1024**2
POSTGRES_DIVISOR = 9531392
MYSQL_DIVISOR = 12582880
POSTGRES_CAP = 5000

# Nominal memory (GiB) of the common classes, as AWS lists them.
CLASS_MEMORY_GIB: dict[str, float] = {
    **{
        f"db.{family}.{size}": gib
        for family in ("t2", "t3", "t4g")
        for size, gib in {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}.items()
    },
    **{
        f"db.{family}.{size}": gib
        for family in ("m5", "m6g", "m6i", "m7g")
        for size, gib in {"large": 8, "xlarge": 16, "2xlarge": 32, "4xlarge": 64}.items()
    },
    **{
        f"db.{family}.{size}": gib
        for family in ("r5", "r6g", "r6i", "r7g")
        for size, gib in {"large": 16, "xlarge": 32, "2xlarge": 64, "4xlarge": 128}.items()
    },
}
# Other sizes of the non-burstable families follow vCPUs x GiB-per-vCPU (m: 4, r: 8, x2: 16, c: 2),
# e.g. db.r6g.8xlarge = 32 x 8.
_SIZE_VCPUS = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
    "24xlarge": 96,
    "32xlarge": 128,
}
_GIB_PER_VCPU = {"m": 4, "r": 8, "x2": 16, "c": 2}
_CLASS_RE = re.compile(r"^db\.(?P<family>[a-z0-9]+)\.(?P<size>[a-z0-9]+)$")


def class_memory_gib(instance_class: str) -> float | None:
    """Nominal memory of an RDS instance class in GiB, or None for a class this module does not know."""
    if instance_class in CLASS_MEMORY_GIB:
        return CLASS_MEMORY_GIB[instance_class]
    match = _CLASS_RE.match(instance_class)
    if match is None or match["family"].startswith("t"):
        return None
    vcpus = _SIZE_VCPUS.get(match["size"])
    if vcpus is None:
        return None
    for prefix in sorted(_GIB_PER_VCPU, key=len, reverse=True):
        if match["family"].startswith(prefix):
            return float(vcpus * _GIB_PER_VCPU[prefix])
    return None


def db_instance_class_memory(instance_class: str) -> int | None:
    """Approximate `DBInstanceClassMemory` in bytes: nominal memory minus the OS/RDS reserve (see module doc)."""
    gib = class_memory_gib(instance_class)
    if gib is None:
        return None
    nominal = gib * GIB
    return int(nominal - (200 * MIB + 0.03 * nominal))


def engine_family(engine: str) -> str | None:
    """'postgres' or 'mysql' (MariaDB shares MySQL's formula); None for engines without the formula."""
    engine = engine.lower()
    if engine.startswith("aurora"):
        # Aurora sets max_connections per cluster instance with its own formulas; not modelled here.
        return None
    if "postgres" in engine:
        return "postgres"
    if engine in ("mysql", "mariadb"):
        return "mysql"
    return None


def default_formula(engine: str) -> str | None:
    family = engine_family(engine)
    if family == "postgres":
        return f"LEAST({{DBInstanceClassMemory/{POSTGRES_DIVISOR}}},{POSTGRES_CAP})"
    if family == "mysql":
        return f"{{DBInstanceClassMemory/{MYSQL_DIVISOR}}}"
    return None


class FormulaError(ValueError):
    """A parameter value that is neither a number nor a formula this evaluator understands."""


_TOKEN_RE = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/(),{}]))")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None or match.end() == position:
            raise FormulaError(f"cannot parse {text!r} at {text[position:]!r}")
        tokens.append(match.group(match.lastgroup or "op"))
        position = match.end()
    return tokens


_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {"LEAST": min, "GREATEST": max, "SUM": sum}


class _Parser:
    """Recursive descent over RDS parameter formulas: numbers, variables, + - * /, {} and (),
    LEAST/GREATEST/SUM. `{...}` marks a formula in RDS syntax and evaluates like parentheses."""

    def __init__(self, tokens: list[str], variables: Mapping[str, float]) -> None:
        self.tokens = tokens
        self.position = 0
        self.variables = variables

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise FormulaError(f"expected {expected or 'a value'}, found {token or 'the end'}")
        self.position += 1
        return token

    def parse(self) -> float:
        value = self.expression()
        if self.peek() is not None:
            raise FormulaError(f"unexpected {self.peek()!r}")
        return value

    def expression(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.factor()
        while self.peek() in ("*", "/"):
            if self.take() == "*":
                value *= self.factor()
            else:
                divisor = self.factor()
                if divisor == 0:
                    raise FormulaError("division by zero")
                value /= divisor
        return value

    def factor(self) -> float:
        token = self.take()
        if token == "-":
            return -self.factor()
        if token in ("(", "{"):
            value = self.expression()
            self.take(")" if token == "(" else "}")
            return value
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            return float(token)
        if token.upper() in _FUNCTIONS and self.peek() == "(":
            self.take("(")
            arguments = [self.expression()]
            while self.peek() == ",":
                self.take(",")
                arguments.append(self.expression())
            self.take(")")
            return float(_FUNCTIONS[token.upper()](arguments))
        if token in self.variables:
            return float(self.variables[token])
        raise FormulaError(f"unknown name {token!r}")


def evaluate(formula: str, variables: Mapping[str, float]) -> int:
    """The integer value of an RDS parameter formula (RDS truncates formula results to integers)."""
    return math.floor(_Parser(_tokens(formula), variables).parse())


@dataclass(frozen=True)
class MaxConnections:
    """An instance's max_connections and where the number came from (for evidence)."""

    value: int | None
    source: str

    def describe(self, instance_class: str, engine: str) -> str:
        if self.value is None:
            return f"max_connections unknown for {instance_class} {engine}: {self.source}"
        return f"{self.value} ({instance_class} {engine} max_connections, {self.source})"


def max_connections(engine: str, instance_class: str, parameter_value: str | None = None) -> MaxConnections:
    """max_connections of an instance, from its parameter group value when set, else the engine default.

    `parameter_value` is the `max_connections` ParameterValue of the instance's parameter group (None
    when the group does not set it, e.g. a `default.*` group).
    """
    memory = db_instance_class_memory(instance_class)
    variables: dict[str, float] = {}
    if memory is not None:
        variables["DBInstanceClassMemory"] = memory
    if parameter_value is not None and parameter_value.strip():
        text = parameter_value.strip()
        if text.isdigit():
            return MaxConnections(int(text), f"parameter group sets {text}")
        if "DBInstanceClassMemory" in text and memory is None:
            return MaxConnections(None, f"parameter group formula {text} needs the memory of an unknown class")
        try:
            value = evaluate(text, variables)
        except FormulaError as exc:
            return MaxConnections(None, f"parameter group value {text!r} not understood: {exc}")
        return MaxConnections(value, f"parameter group formula {text} with DBInstanceClassMemory≈{_gib(memory)}")
    formula = default_formula(engine)
    if formula is None:
        return MaxConnections(None, f"no default formula modelled for engine {engine!r}")
    if memory is None:
        return MaxConnections(None, f"instance class {instance_class!r} not in the memory table")
    value = evaluate(formula, variables)
    return MaxConnections(value, f"engine default {formula} with DBInstanceClassMemory≈{_gib(memory)}")


def _gib(memory: int | None) -> str:
    return "?" if memory is None else f"{memory / GIB:.2f} GiB"
