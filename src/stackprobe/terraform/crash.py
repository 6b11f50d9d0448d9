"""A provider crash, recognised in terraform's output and told as what it is against an emulator.

When a provider panics, terraform prints "Stack trace from the terraform-provider-aws_v5.100.0_x5 plugin:",
the Go panic with its goroutine's frames, and "Error: The terraform-provider-aws_v5.100.0_x5 plugin
crashed!", which asks for a bug report to the provider's maintainers. Its Error paragraphs, all a failure
report keeps of the output, say only "Plugin did not respond": the panic is lost. Against an emulator the
usual cause is an answer AWS would not give (a field present but empty, which the provider dereferences
unchecked), so the error says it is a provider crash on an emulator answer, keeps the panic line and the
first frames (they name the provider function that read the answer), and the remedy names the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stackprobe.errors import TerraformFailed

_CRASHED = re.compile(r"^Error: The (\S+) plugin crashed!", re.MULTILINE)
_STACK_TRACE = re.compile(r"^Stack trace from the (\S+) plugin:", re.MULTILINE)
# A Go panic, or a fatal runtime error (which also prints the goroutine's frames).
_PANIC = re.compile(r"^(?:panic|fatal error): .+$", re.MULTILINE)
_GOROUTINE = re.compile(r"^goroutine \d+ \[[^\]]*\]:$", re.MULTILINE)
# A frame's argument list, `(0xc00e52f800, {0x1e1dae28, ...})`: addresses that help no reader.
_ARGUMENTS = re.compile(r"\([^()]*\)$")
FRAMES_SHOWN = 4
# The paragraph terraform prints for each resource the crash interrupted; the lines after the first three
# (error, resource, file and line) are the same generic words for every resource.
_NO_RESPONSE = "Error: Plugin did not respond"


@dataclass(frozen=True)
class ProviderCrash:
    """What terraform printed of a crashed provider: the plugin, the panic line and its first frames."""

    plugin: str
    panic: str
    frames: tuple[str, ...]

    def render(self) -> str:
        panic = self.panic or "(terraform printed no panic: its output was cut)"
        return "\n".join([panic, *(f"  at {frame}" for frame in self.frames)])


def provider_crash(output: str) -> ProviderCrash | None:
    """The crash terraform's `output` reports, or None when no provider crashed."""
    crashed, trace = _CRASHED.search(output), _STACK_TRACE.search(output)
    named = crashed or trace
    if named is None:
        return None
    panic = _PANIC.search(output, trace.end() if trace else 0)
    frames: tuple[str, ...] = ()
    if panic is not None:
        goroutine = _GOROUTINE.search(output, panic.end())
        frames = _frames(output[goroutine.end() :].lstrip("\n").splitlines()) if goroutine else ()
    return ProviderCrash(named.group(1), panic.group(0).strip() if panic else "", frames)


def _frames(lines: list[str]) -> tuple[str, ...]:
    """`function (dir/file.go:line)` of the goroutine's first frames, from its function/location line pairs."""
    frames: list[str] = []
    for function, location in zip(lines[::2], lines[1::2], strict=False):
        if not location.startswith("\t") or function.startswith("created by "):
            break
        # Go's own runtime frames (panic, sigpanic) come first in an explicit panic and name no provider code.
        if "/src/runtime/" in location:
            continue
        name = _ARGUMENTS.sub("", function.strip()).rsplit("/", 1)[-1]
        where = "/".join(location.strip().split(" ", 1)[0].split("/")[-2:])
        frames.append(f"{name} ({where})")
        if len(frames) == FRAMES_SHOWN:
            break
    return tuple(frames)


def _paragraphs_kept(detail: str) -> str:
    """Terraform's Error paragraphs without its crash notice (the crash is told instead), and each resource's
    "Plugin did not respond" cut to the lines naming the resource."""
    kept = []
    for paragraph in detail.split("\n\n"):
        if _CRASHED.match(paragraph):
            continue
        kept.append("\n".join(paragraph.splitlines()[:3]) if paragraph.startswith(_NO_RESPONSE) else paragraph)
    return "\n\n".join(kept)


class ProviderCrashed(TerraformFailed):
    """A terraform command failed because a provider crashed; `crash` is what terraform printed of it."""

    def __init__(self, crash: ProviderCrash, problem: str, detail: str, output: str, last_request: str = "") -> None:
        self.crash = crash
        asked = (
            f"`{last_request}`"
            if last_request
            else "(terraform's last in the emulator's request log printed with this error)"
        )
        remedy = (
            f"nothing to fix in the stack. The provider crashed reading the emulator's answer to its last request "
            f"{asked}: most likely an answer AWS would not give (the frames above name the provider code that read "
            "it). Report that request and the frames as an emulator gap; `stackprobe compat` lists the gaps "
            "stackprobe patches."
        )
        super().__init__(problem, remedy, detail, output)

    def naming(self, last_request: str) -> str:
        """This error's text, its remedy naming the request whose answer the provider crashed on."""
        return str(ProviderCrashed(self.crash, self.problem, self.detail, self.output, last_request))


def crash_failure(failed: str, detail: str, output: str) -> ProviderCrashed | None:
    """A command's failure (`failed`: "`terraform apply` failed (exit 1)", `detail`: terraform's Error
    paragraphs) told as the provider crash its `output` shows; None when no provider crashed."""
    crash = provider_crash(output)
    if crash is None:
        return None
    problem = f"{failed}: the provider {crash.plugin} crashed on an emulator answer"
    kept = _paragraphs_kept(detail)
    return ProviderCrashed(crash, problem, crash.render() + (f"\n\n{kept}" if kept else ""), output)
