"""Point an unmodified discord.py at the fake Discord, and keep the process on loopback.

Python imports ``sitecustomize`` at start-up from ``sys.path``; the test harness puts this
directory first on ``PYTHONPATH`` and sets ``FAKE_DISCORD_URL`` (``http://127.0.0.1:PORT``).
discord.py has no setting for its API base or gateway URL, so this module patches them the
moment the modules that define them finish executing (a meta-path hook wraps their loaders),
without importing discord itself:

* ``discord.http.Route.BASE`` -> ``$FAKE_DISCORD_URL/api/v10`` (and ``_set_api_version``)
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` -> ``ws://127.0.0.1:PORT/gateway``
* ``discord.asset.Asset.BASE`` (the CDN) -> ``$FAKE_DISCORD_URL``

The gateway URL from ``GET /gateway/bot``, the ``resume_gateway_url`` and attachment URLs
come from the fake itself. As a backstop, name resolution and socket connects to anything
but loopback are refused (``FAKE_DISCORD_ALLOW_NETWORK=1`` turns that off). Without
``FAKE_DISCORD_URL`` this module does nothing. ``python -I``/``-S`` skip it entirely.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

_log = logging.getLogger("fakediscord.site")

_URL = os.environ.get("FAKE_DISCORD_URL", "").rstrip("/")


def _ws_url(http_url: str) -> str:
    """``http://host:port`` -> ``ws://host:port/gateway`` (https -> wss)."""
    scheme, _, rest = http_url.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/gateway"


def _patch_http(module: ModuleType) -> None:
    """Route every REST call (bot and webhook adapters share ``Route``) to the fake."""
    route: Any = module.Route
    route.BASE = f"{_URL}/api/v10"
    original: Callable[[int], None] = module._set_api_version

    def _set_api_version(value: int) -> None:
        original(value)
        route.BASE = f"{_URL}/api/v{value}"

    module._set_api_version = _set_api_version  # type: ignore[attr-defined]


def _patch_gateway(module: ModuleType) -> None:
    """The default gateway (used without /gateway/bot and after INVALID_SESSION)."""
    import yarl

    module.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(_ws_url(_URL))


def _patch_asset(module: ModuleType) -> None:
    """Avatars and icons are built from ``Asset.BASE``; serve them from the fake."""
    module.Asset.BASE = _URL


_PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "discord.http": _patch_http,
    "discord.gateway": _patch_gateway,
    "discord.asset": _patch_asset,
}


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then the patch; everything else is delegated."""

    def __init__(self, inner: importlib.abc.Loader, patch: Callable[[ModuleType], None]) -> None:
        self._inner = inner
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        self._patch(module)
        _log.debug("fake discord: patched %s", module.__name__)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _PatchingFinder(importlib.abc.MetaPathFinder):
    """Finds the patched modules with the other finders and wraps their loaders."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patch = _PATCHES.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def _is_loopback(host: object) -> bool:
    """Whether ``host`` is loopback (or empty, as when binding)."""
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip("[]").split("%")[0]
    if text.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> OSError:
    _log.warning("fake discord: refused %s (tests may only reach 127.0.0.1)", what)
    return OSError(f"fake discord network guard: refused {what}; only loopback is reachable")


def _guard_network() -> None:
    """Refuse DNS lookups and connects that would leave the machine."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, str(_refuse(f"resolving {host!r}")))
        return real_getaddrinfo(host, *args, **kwargs)

    def _check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise _refuse(f"connecting to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]


def _chain_next_sitecustomize() -> None:
    """Run the ``sitecustomize`` this one shadows, if any, so we add rather than replace."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def _install() -> None:
    finder = _PatchingFinder()
    sys.meta_path.insert(0, finder)
    for name, patch in _PATCHES.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
    if os.environ.get("FAKE_DISCORD_ALLOW_NETWORK") != "1":
        _guard_network()


_chain_next_sitecustomize()
if _URL:
    _install()
