r"""The deployment as a picture: geometry for the server-rendered SVG (templates/ops_picture.svg.j2).

Six module boxes on a fixed grid chosen so that no call line crosses a box:

    timeline --> tweets --> media
         \         |       /
    notifications --> users    analytics

(timeline and tweets call users; users calls media.)

Each box says where its module runs (inside the gateway process, or its own service) and, for
a service, lists its replicas with address and health. Lines are the calls between modules from
the port dependency graph (``composition.port_dependencies``): dashed when both ends share a
process (a plain ``await``), solid when the call crosses the network. On a phone-width screen
the same boxes stand in one column (``lay_out_column``), each naming whom it calls instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GRID = {
    "timeline": (0, 0),
    "tweets": (1, 0),
    "media": (2, 0),
    "notifications": (0, 1),
    "users": (1, 1),
    "analytics": (2, 1),
}

WIDTH = 960
MARGIN = 16
BANNER_H = 58
GAP_X = 70
GAP_Y = 56
BOX_W = (WIDTH - 2 * MARGIN - 2 * GAP_X) // 3
HEAD_H = 48
ROW_H = 20


@dataclass(slots=True)
class ReplicaRow:
    address: str
    health: str  # up | down | unregistered
    breaker: str  # closed | half-open | open (the worst any caller reports)
    x: float = 0.0
    y: float = 0.0

    @property
    def label(self) -> str:
        text = self.health
        if self.breaker != "closed":
            text += f", breaker {self.breaker}"
        return text


@dataclass(slots=True)
class ModuleBox:
    module: str
    process: str  # "gateway" or the service's name
    replicas: list[ReplicaRow] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    w: float = BOX_W
    h: float = HEAD_H
    #: whom it calls, in words (the one-column picture has no lines)
    calls: str = ""

    @property
    def first_row_y(self) -> float:
        return self.y + HEAD_H + (ROW_H if self.calls else 0)

    @property
    def in_gateway(self) -> bool:
        return self.process == "gateway"

    @property
    def health(self) -> str:
        """up: every replica up; down: none; degraded: some (a module in the gateway is up)."""
        if self.in_gateway:
            return "up"
        up = sum(1 for r in self.replicas if r.health == "up" and r.breaker != "open")
        if up == len(self.replicas) and up:
            return "up"
        return "down" if up == 0 else "degraded"

    @property
    def where(self) -> str:
        if self.in_gateway:
            return "in the gateway process"
        n = len(self.replicas)
        return f"service, {n} replica{'s' if n != 1 else ''}"


@dataclass(frozen=True, slots=True)
class CallLine:
    caller: str
    callee: str
    x1: float
    y1: float
    x2: float
    y2: float
    local: bool


@dataclass(slots=True)
class Picture:
    boxes: list[ModuleBox]
    lines: list[CallLine]
    width: int
    height: int
    banner_h: int = BANNER_H
    narrow: bool = False


def lay_out(boxes: dict[str, ModuleBox], calls: dict[str, tuple[str, ...]]) -> Picture:
    """Place the boxes on the grid, size them by their replicas, and draw the call lines."""
    rows: dict[int, float] = {}
    for name, box in boxes.items():
        box.h = HEAD_H + ROW_H * len(box.replicas) + (8 if box.replicas else 0)
        row = GRID[name][1]
        rows[row] = max(rows.get(row, 0.0), box.h)
    top = MARGIN + BANNER_H + GAP_Y
    row_y = {0: top, 1: top + rows.get(0, HEAD_H) + GAP_Y}
    for name, box in boxes.items():
        col, row = GRID[name]
        box.x = MARGIN + col * (BOX_W + GAP_X)
        box.y = row_y[row]
        for i, replica in enumerate(box.replicas):
            replica.x = box.x + 14
            replica.y = box.y + HEAD_H + 6 + i * ROW_H
    lines = []
    for caller, callees in sorted(calls.items()):
        for callee in callees:
            if caller not in boxes or callee not in boxes:
                continue
            a, b = boxes[caller], boxes[callee]
            x1, y1 = _edge_point(a, b)
            x2, y2 = _edge_point(b, a)
            local = a.process == b.process
            lines.append(CallLine(caller, callee, x1, y1, x2, y2, local))
    height = int(row_y[1] + rows.get(1, HEAD_H) + MARGIN)
    return Picture(boxes=[boxes[n] for n in GRID if n in boxes], lines=lines, width=WIDTH, height=height)


COLUMN_W = 360
COLUMN_GAP = 12


def lay_out_column(boxes: dict[str, ModuleBox], calls: dict[str, tuple[str, ...]]) -> Picture:
    """The phone-width picture: boxes in one column, each naming the modules it calls."""
    y = MARGIN + BANNER_H + COLUMN_GAP
    ordered = [boxes[n] for n in GRID if n in boxes]
    for box in ordered:
        callees = [c for c in calls.get(box.module, ()) if c in boxes]
        if callees:
            how = ["in-process" if boxes[c].process == box.process else "HTTP" for c in callees]
            box.calls = "calls " + ", ".join(f"{c} ({h})" for c, h in zip(callees, how, strict=True))
        box.x, box.y, box.w = MARGIN, y, COLUMN_W - 2 * MARGIN
        box.h = HEAD_H + (ROW_H if box.calls else 0) + ROW_H * len(box.replicas) + (8 if box.replicas else 0)
        for i, replica in enumerate(box.replicas):
            replica.x = box.x + 14
            replica.y = box.first_row_y + 6 + i * ROW_H
        y += box.h + COLUMN_GAP
    return Picture(boxes=ordered, lines=[], width=COLUMN_W, height=int(y + MARGIN - COLUMN_GAP), narrow=True)


def _centre(box: ModuleBox) -> tuple[float, float]:
    return box.x + box.w / 2, box.y + box.h / 2


def _edge_point(box: ModuleBox, towards: ModuleBox) -> tuple[float, float]:
    """Where the line from ``box``'s centre towards ``towards``'s centre leaves ``box``."""
    (cx, cy), (tx, ty) = _centre(box), _centre(towards)
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(
        (box.w / 2) / abs(dx) if dx else float("inf"),
        (box.h / 2) / abs(dy) if dy else float("inf"),
    )
    return round(cx + dx * scale, 1), round(cy + dy * scale, 1)
