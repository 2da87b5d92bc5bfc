"""Pages for people: what the gateway is (`/`) and what each problem code means."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, Field

from gateway.api import api, json_response
from gateway.problem_types import PROBLEM_TYPES
from gateway.problems import PROBLEM_TYPE_BASE, not_found

_INDEX_PAGE = (Path(__file__).parent.parent / "static" / "index.html").read_text(encoding="utf-8")


class ProblemTypeOut(BaseModel):
    """What a problem code means and how to fix the request that got it."""

    code: str = Field(description="the problem's stable `code`", examples=["sold_out"])
    type: str = Field(
        description="the problem's `type`: this page", examples=["/problems/sold_out"]
    )
    status: int = Field(description="the HTTP status answered with this code", examples=[409])
    title: str = Field(description="a short summary", examples=["Sold out"])
    meaning: str = Field(description="what went wrong")
    fix: str = Field(description="how to change the request so that it succeeds")


class ProblemTypeList(BaseModel):
    """Every problem code the gateway answers with."""

    items: list[ProblemTypeOut] = Field(description="the codes, by status then code")


def _out(code: str) -> ProblemTypeOut:
    kind = PROBLEM_TYPES[code]
    return ProblemTypeOut(
        code=code,
        type=PROBLEM_TYPE_BASE + code,
        status=kind.status,
        title=kind.title,
        meaning=kind.meaning,
        fix=kind.fix,
    )


def _wants_json(request: web.Request) -> bool:
    """Answer JSON only when asked for it: a browser or a bare curl gets the page."""
    accept = request.headers.get("Accept", "")
    return "json" in accept and "text/html" not in accept


@api.route("GET", "/", summary="What this gateway is", tag="pages", media_types=("text/html",))
async def index(request: web.Request) -> web.Response:
    """Serve a page that says what the gateway is and links its documents and open data."""
    return web.Response(text=_INDEX_PAGE, content_type="text/html")


_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}"
    "code{background:#f3f3f1;padding:0 .2em}td,th{text-align:left;padding:.2rem .6rem .2rem 0}"
)


def _page(title: str, body: str) -> web.Response:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body>{body}"
        '<p><a href="/problems">All problem codes</a> · <a href="/docs">API documentation</a>'
        "</p></body></html>"
    )
    return web.Response(text=text, content_type="text/html")


def _inline(text: str) -> str:
    """Escape text for HTML and show `backquoted` parts as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


@api.route(
    "GET",
    "/problems",
    summary="Every problem code",
    tag="pages",
    response=ProblemTypeList,
    media_types=("text/html",),
)
async def list_problem_types(request: web.Request) -> web.Response:
    """List every problem code with its status (HTML, or JSON when `Accept` asks for it)."""
    codes = sorted(PROBLEM_TYPES, key=lambda c: (PROBLEM_TYPES[c].status, c))
    if _wants_json(request):
        return json_response(ProblemTypeList(items=[_out(c) for c in codes]))
    rows = "".join(
        f'<tr><td>{PROBLEM_TYPES[c].status}</td><td><a href="{PROBLEM_TYPE_BASE}{c}">'
        f"<code>{c}</code></a></td><td>{_inline(PROBLEM_TYPES[c].title)}</td></tr>"
        for c in codes
    )
    body = (
        "<h1>Problem codes</h1><p>Every error of the gateway is <code>application/problem+json"
        "</code> with one of these codes; its <code>type</code> is the code's page.</p>"
        f"<table><tr><th>status</th><th>code</th><th>title</th></tr>{rows}</table>"
    )
    return _page("Problem codes", body)


@api.route(
    "GET",
    "/problems/{code}",
    summary="What a problem code means and how to fix the request",
    tag="pages",
    response=ProblemTypeOut,
    media_types=("text/html",),
    errors=("not_found",),
)
async def get_problem_type(request: web.Request) -> web.Response:
    """Explain one problem code (HTML, or JSON when `Accept` asks for it)."""
    code = request.match_info["code"]
    if code not in PROBLEM_TYPES:
        raise not_found("problem code", code)
    out = _out(code)
    if _wants_json(request):
        return json_response(out)
    body = (
        f"<h1>{_inline(out.title)}</h1><p>Code <code>{code}</code>, HTTP status {out.status}."
        f"</p><h2>What it means</h2><p>{_inline(out.meaning)}</p>"
        f"<h2>How to fix the request</h2><p>{_inline(out.fix)}</p>"
    )
    return _page(f"{code}: {html.escape(out.title)}", body)
