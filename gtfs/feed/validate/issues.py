"""Feed issues: `{file, row, field, message}`, collected as errors or warnings with totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

MAX_LISTED = 100


@dataclass(frozen=True, slots=True)
class FeedIssue:
    """One problem of a feed: where it is (file, CSV line, column) and what is wrong."""

    file: str
    row: int | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """Return the issue as the JSON object the API and the database use."""
        return {"file": self.file, "row": self.row, "field": self.field, "message": self.message}


class FeedInvalid(Exception):
    """The feed has errors: nothing of it is stored."""

    def __init__(self, errors: list[FeedIssue], total: int | None = None) -> None:
        self.errors = errors[:MAX_LISTED]
        self.total = total if total is not None else len(errors)
        first = self.errors[0] if self.errors else FeedIssue("", None, None, "invalid")
        where = first.file + (f" line {first.row}" if first.row else "")
        # An issue of the whole upload names no file: no empty "first: : ..." then.
        located = f"{where}: {first.message}" if where else first.message
        super().__init__(f"{self.total} error(s) in the feed; first: {located}")

    def __reduce__(self) -> tuple[type[FeedInvalid], tuple[list[FeedIssue], int]]:
        """Pickle with the issues (a feed is validated in a child process)."""
        return type(self), (self.errors, self.total)


@dataclass
class Issues:
    """Collects errors and warnings, keeping the first `MAX_LISTED` of each and the totals."""

    errors: list[FeedIssue] = field(default_factory=list)
    warnings: list[FeedIssue] = field(default_factory=list)
    error_total: int = 0
    warning_total: int = 0

    def error(self, file: str, row: int | None, column: str | None, message: str) -> None:
        """Record one error."""
        self.error_total += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(FeedIssue(file, row, column, message))

    def warning(self, file: str, row: int | None, column: str | None, message: str) -> None:
        """Record one warning."""
        self.warning_total += 1
        if len(self.warnings) < MAX_LISTED:
            self.warnings.append(FeedIssue(file, row, column, message))

    def rows(
        self,
        file: str,
        df: pd.DataFrame,
        bad: npt.NDArray[np.bool_] | pd.Series,
        column: str,
        message: str,
        *,
        warn: bool = False,
    ) -> None:
        """Record one issue per row where `bad` is true; `{value}` in the message is the cell."""
        mask = np.asarray(bad, dtype=bool)
        count = int(mask.sum())
        if not count:
            return
        listed = len(self.warnings) if warn else len(self.errors)
        take = np.flatnonzero(mask)[: max(MAX_LISTED - listed, 0)]
        values = df[column].iloc[take].astype(str).tolist() if column in df else [""] * len(take)
        for index, value in zip(take.tolist(), values, strict=True):
            text = message.format(value=value)
            (self.warning if warn else self.error)(file, index + 2, column, text)
        if warn:
            self.warning_total += count - len(take)
        else:
            self.error_total += count - len(take)

    def raise_if_any(self) -> None:
        """Raise `FeedInvalid` when any error was recorded."""
        if self.error_total:
            raise FeedInvalid(self.errors, self.error_total)
