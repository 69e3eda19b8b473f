"""An OpenAI-compatible chat client (vLLM, `transformers serve`) and the backend built on it.

Requests run in a bounded thread pool (cfg.serving.concurrency) and are yielded as they finish.
Transport failures (connection refused/reset, timeouts) and 5xx/429 answers are retried with
exponential backoff (cfg.serving.retries); other 4xx answers are not (the request itself is wrong).
A 4xx saying the prompt does not fit the server's context (max_model_len - max_tokens) is the
problem's own, deterministic answer: a Generation with finish_reason "prompt_too_long" (counted
against the model, never retried), not an error.
A failure becomes a Generation with `error` set, never an empty answer. When a request has used up
its retries and the server no longer answers /health, the server is taken for dead: generate()
yields the records it has, then raises GenerationError, so the caller keeps what finished and a
re-run resumes from there.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import requests

from ..errors import GenerationError
from .base import Backend, Item, greedy_params
from .records import Generation

log = logging.getLogger(__name__)

_RETRY_STATUS = {429, 500, 502, 503, 504}
# vLLM: "This model's maximum context length is N tokens. However, you requested ..." or
# "'max_tokens' ... is too large: M. This model's maximum context length is N tokens and your request has ..."
_CONTEXT_TOO_SMALL = re.compile(r"maximum context length|max_model_len|context length|prompt is too long", re.I)
PROMPT_TOO_LONG = "prompt_too_long"
_CONNECT_TIMEOUT_S = 10.0


class RequestFailed(Exception):
    def __init__(self, message: str, *, transport: bool, prompt_too_long: bool = False):
        super().__init__(message)
        self.transport = transport
        self.prompt_too_long = prompt_too_long


def normalize_base_url(url: str) -> str:
    """'http://h:8000', 'http://h:8000/', 'http://h:8000/v1' -> 'http://h:8000'."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    return url[:-3] if url.endswith("/v1") else url


class OpenAIClient:
    def __init__(self, url: str, cfg, *, model: str | None = None):
        self.base_url = normalize_base_url(url)
        self.cfg = cfg
        self.model = model
        self.params = greedy_params(cfg)
        self.timeout_s = float(cfg.serving["request_timeout_s"])
        self.retries = int(cfg.serving["retries"])
        # set on Ctrl-C / close: requests still in flight give up instead of retrying with backoff
        self.stopping = threading.Event()
        self._local = threading.local()

    # one requests.Session per thread: sessions are not thread-safe
    @property
    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def health(self) -> tuple[bool, str]:
        for path in ("/health", "/v1/models"):
            try:
                r = self._session.get(self.base_url + path, timeout=_CONNECT_TIMEOUT_S)
            except requests.RequestException as e:
                return False, f"{self.base_url}{path}: {type(e).__name__}: {e}"
            if r.status_code == 200:
                return True, f"{self.base_url}{path}: ok"
            if r.status_code != 404:
                return False, f"{self.base_url}{path}: HTTP {r.status_code}"
        return False, f"{self.base_url}: neither /health nor /v1/models answers"

    def served_models(self) -> list[str]:
        try:
            r = self._session.get(self.base_url + "/v1/models", timeout=_CONNECT_TIMEOUT_S + self.timeout_s / 10)
            r.raise_for_status()
            return [m["id"] for m in r.json().get("data", [])]
        except (requests.RequestException, ValueError, KeyError, TypeError) as e:
            raise GenerationError(
                f"{self.base_url}/v1/models: cannot list the served models ({e}); is an "
                "OpenAI-compatible server running there? (check --vllm-url / the server log)"
            ) from None

    def served_max_model_len(self) -> int | None:
        """The context the server serves self.model with, when it says (vLLM's /v1/models does)."""
        try:
            r = self._session.get(self.base_url + "/v1/models", timeout=_CONNECT_TIMEOUT_S + self.timeout_s / 10)
            r.raise_for_status()
            for m in r.json().get("data", []):
                if m.get("id") == self.model and isinstance(m.get("max_model_len"), int):
                    return m["max_model_len"]
        except (requests.RequestException, ValueError, AttributeError, TypeError):
            pass
        return None

    def resolve_model(self) -> str:
        """Check the served model id: the one asked for, or the only one served when none was named."""
        served = self.served_models()
        if self.model is None:
            if len(served) != 1:
                raise GenerationError(
                    f"{self.base_url} serves {len(served)} models ({', '.join(served) or 'none listed'}); "
                    "name the one to use with --model"
                )
            self.model = served[0]
        elif served and self.model not in served:
            raise GenerationError(
                f"{self.base_url} serves {', '.join(served)}, not {self.model!r}: the wrong server or "
                "checkpoint is running on that port; stop it or pass the served name with --model"
            )
        elif not served:
            # `transformers serve` lists only models from the hub cache, not a local folder it was given
            log.warning("%s lists no models; cannot verify that it serves %r", self.base_url, self.model)
        return self.model

    def _post_once(self, payload: dict) -> dict:
        try:
            r = self._session.post(
                self.base_url + "/v1/chat/completions", json=payload, timeout=(_CONNECT_TIMEOUT_S, self.timeout_s)
            )
        except requests.RequestException as e:
            raise RequestFailed(f"{type(e).__name__}: {e}", transport=True) from None
        if r.status_code != 200:
            body = r.text[:500].replace("\n", " ")
            raise RequestFailed(
                f"HTTP {r.status_code} from {self.base_url}/v1/chat/completions: {body}",
                transport=r.status_code in _RETRY_STATUS,
                prompt_too_long=400 <= r.status_code < 500 and bool(_CONTEXT_TOO_SMALL.search(body)),
            )
        try:
            return r.json()
        except ValueError:
            raise RequestFailed(f"non-JSON answer from {self.base_url}: {r.text[:200]!r}", transport=True) from None

    def chat(self, messages: list[dict], max_new_tokens: int | None = None) -> dict[str, Any]:
        """One chat completion with retries: {'text', 'finish_reason', 'prompt_tokens', 'completion_tokens'}."""
        p = self.params
        payload = {
            "model": self.model,
            "messages": messages,
            "temperature": p["temperature"],
            "top_p": p["top_p"],
            "max_tokens": max_new_tokens or p["max_new_tokens"],
            "seed": p["seed"],
            "n": 1,
            "stream": False,
        }
        delay = 1.0
        for attempt in range(self.retries + 1):
            try:
                data = self._post_once(payload)
                break
            except RequestFailed as e:
                if not e.transport or attempt == self.retries or self.stopping.is_set():
                    raise
                log.warning("request failed (%s); retry %d/%d in %.0f s", e, attempt + 1, self.retries, delay)
                if self.stopping.wait(delay):
                    raise
                delay = min(delay * 2, 30.0)
        try:
            choice = data["choices"][0]
            usage = data.get("usage") or {}
            return {
                "text": choice["message"].get("content") or "",
                "finish_reason": choice.get("finish_reason"),
                "prompt_tokens": usage.get("prompt_tokens"),
                "completion_tokens": usage.get("completion_tokens"),
            }
        except (KeyError, IndexError, TypeError, AttributeError):
            raise RequestFailed(
                f"malformed chat completion from {self.base_url}: {str(data)[:300]}", transport=False
            ) from None


class OpenAIBackend(Backend):
    """Generation through an already running OpenAI-compatible server (`--vllm-url`)."""

    name = "openai"

    def __init__(
        self, url: str, cfg, *, model: str | None = None, concurrency: int | None = None, verify_model: bool = True
    ):
        self.client = OpenAIClient(url, cfg, model=model)
        # off only for a server we started ourselves with that model (`transformers serve`'s /v1/models
        # lists the hub cache, not the model it serves)
        self.verify_model = verify_model
        self.concurrency = int(concurrency or cfg.serving["concurrency"])
        self._resolved = False

    def __enter__(self) -> OpenAIBackend:
        ok, why = self.client.health()
        if not ok:
            raise GenerationError(
                f"no server answers at {self.client.base_url} ({why}); start one (coderl serve) or fix --vllm-url"
            )
        if self.verify_model or self.client.model is None:
            self.client.resolve_model()
        self._resolved = True
        return self

    def _one(self, problem, messages) -> Generation:
        t0 = time.monotonic()
        try:
            out = self.client.chat(messages)
        except RequestFailed as e:
            if e.prompt_too_long:  # the problem's own answer: it does not fit this server's context
                return Generation(
                    id=problem.id,
                    dataset=problem.dataset,
                    completion="",
                    finish_reason=PROMPT_TOO_LONG,
                    truncated=False,
                    prompt_tokens=None,
                    completion_tokens=None,
                    wall_s=time.monotonic() - t0,
                    detail=str(e)[:400],
                )
            g = Generation.failed(problem.id, problem.dataset, f"{self.client.base_url}: {e}", time.monotonic() - t0)
            g._transport = e.transport  # type: ignore[attr-defined]  # read by generate(), not serialized
            return g
        fr = out["finish_reason"]
        return Generation(
            id=problem.id,
            dataset=problem.dataset,
            completion=out["text"],
            finish_reason=fr,
            truncated=fr == "length",
            prompt_tokens=out["prompt_tokens"],
            completion_tokens=out["completion_tokens"],
            wall_s=time.monotonic() - t0,
        )

    def generate(self, items: Iterable[Item]) -> Iterator[Generation]:
        if not self._resolved:
            self.__enter__()
        self.client.stopping.clear()  # a new run of requests (an earlier one may have been cut short)
        it = iter(items)
        window = 2 * self.concurrency  # bounded: a huge item stream never floods memory or the server
        done_count = 0
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="coderl-gen")
        completed = False
        try:
            pending: set[Future] = set()
            exhausted = False
            try:
                while pending or not exhausted:
                    while not exhausted and len(pending) < window:
                        try:
                            problem, messages = next(it)
                        except StopIteration:
                            exhausted = True
                            break
                        pending.add(pool.submit(self._one, problem, messages))
                    if not pending:
                        break
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        g = fut.result()
                        done_count += 1
                        yield g
                        if g.error and getattr(g, "_transport", False):
                            ok, why = self.client.health()
                            if not ok:
                                raise GenerationError(
                                    f"the server at {self.client.base_url} stopped answering ({why}) after "
                                    f"{done_count} generations; those were yielded (and kept by the caller); "
                                    "restart the server and re-run to resume"
                                )
            finally:
                for f in pending:
                    f.cancel()
            completed = True
        finally:
            # Ctrl-C, an error or a consumer that stopped early: do not wait for the requests in flight
            # (they can take minutes on a busy server; the server is being stopped anyway)
            if not completed:
                self.client.stopping.set()
            pool.shutdown(wait=completed, cancel_futures=not completed)

    def close(self) -> None:
        self.client.stopping.set()
