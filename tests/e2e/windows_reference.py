"""A plain pandas implementation of `salvo windows`, written from the documented semantics and
nothing else: for each group, for each window, filter the events and aggregate them."""
import math

import numpy as np
import pandas as pd

UNITS = {"us": 1, "ms": 1000, "s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6, "d": 86400 * 10**6, "w": 7 * 86400 * 10**6}


def duration(text):
    for unit in ("us", "ms", "s", "m", "h", "d", "w"):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return int(text[: -len(unit)]) * UNITS[unit]
    raise ValueError(text)


def aggregate(func, column, events):
    """One aggregate over the events of a window (a DataFrame in time order, ties in input order)."""
    if column is None:
        return len(events) if func == "count" else len(events) > 0
    values = events[column].dropna()
    if func == "count":
        return len(values)
    if func == "distinct":
        return int(values.nunique())
    if len(values) == 0:
        return None
    if func == "sum":
        total = values.sum()
        return int(total) if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values) else float(total)
    if func in ("mean", "avg"):
        return float(values.astype("float64").mean())
    if func == "stddev":
        return None if len(values) < 2 else float(values.astype("float64").std(ddof=1))
    if func == "min":
        return values.min()
    if func == "max":
        return values.max()
    if func == "first":
        return values.iloc[0]
    if func == "last":
        return values.iloc[-1]
    if func == "any":
        return bool(values.astype(bool).any())
    raise ValueError(func)


def windows(df, group, time, window, step, features, origin=0, label=None, horizon=0, skip_empty=False):
    """`df`: the input in input order; `time` holds integer microseconds (NaN: a bad row, left out).
    `features`: [(output name, function, column or None)]; `label`: (function, column or None).
    Returns rows as dicts, groups in ascending order (null first), windows in time order."""
    df = df.copy()
    df["_order"] = np.arange(len(df))
    df = df[df[time].notna()]
    df["_t"] = df[time].astype("int64")
    rows = []
    keys = df[group].drop_duplicates()
    ordered = ([None] if keys.isna().any() else []) + sorted(k for k in keys if not pd.isna(k))
    for key in ordered:
        g = df[df[group].isna()] if key is None else df[df[group] == key]
        g = g.sort_values(["_t", "_order"], kind="stable")
        t = g["_t"].to_numpy()
        first = math.floor((int(t.min()) - window - origin) / step) + 1
        last = math.floor((int(t.max()) - origin) / step)
        # The events with start <= t < end: found by binary search in the sorted times, the same
        # as filtering g by (g._t >= start) & (g._t < end), only faster.
        def between(start, end):
            return g.iloc[np.searchsorted(t, start, "left"):np.searchsorted(t, end, "left")]

        for k in range(first, last + 1):
            start = origin + k * step
            inside = between(start, start + window)
            if skip_empty and len(inside) == 0:
                continue
            row = {group: key, "window_start": start, "window_end": start + window}
            for name, func, column in features:
                row[name] = aggregate(func, column, inside)
            if label is not None:
                row["label"] = aggregate(label[0], label[1], between(start + window, start + window + horizon))
            rows.append(row)
    return rows


def same(a, b, rel=1e-9):
    """Whether two cell values agree (nulls, NaN, floats within a relative tolerance)."""
    a_null = a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NA or a is pd.NaT
    b_null = b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NA or b is pd.NaT
    if a_null or b_null:
        return a_null and b_null
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=rel)
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return bool(a) == bool(b)
    return a == b
