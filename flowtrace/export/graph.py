"""A flow's graph as Mermaid or Graphviz DOT text, from its ``FlowStarted`` event.

Nodes appear in registration order with their label and kind (streaming nodes are drawn
with a double border); each connected input port is an edge ``producer → consumer``
labelled with the port's name, dashed when the port has a default (the edges a cycle
break may skip).
"""

from __future__ import annotations

import json

from flowtrace.events import GraphInfo

__all__ = ["to_mermaid", "to_dot"]


def _mermaid_id(node_id: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in node_id)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(graph: GraphInfo) -> str:
    """``flowchart LR`` text for ``graph``."""
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}
    for n in graph.nodes:
        ids[n.node_id] = ident = _mermaid_id(n.node_id) + f"_{len(ids)}"
        text = _mermaid_text(f"{n.node_id}: {n.label}" if n.label != n.node_id else n.node_id)
        if n.kind == "stream":
            lines.append(f'    {ident}[["{text}"]]')
        else:
            lines.append(f'    {ident}["{text}"]')
    for n in graph.nodes:
        for p in n.inputs:
            if p.producer is None or p.producer not in ids:
                continue
            arrow = "-.->" if p.has_default else "-->"
            label = _mermaid_text(p.name or str(p.index))
            lines.append(f'    {ids[p.producer]} {arrow}|"{label}"| {ids[n.node_id]}')
    return "\n".join(lines) + "\n"


def to_dot(graph: GraphInfo, name: str = "flow") -> str:
    """Graphviz ``digraph`` text for ``graph``."""
    q = json.dumps
    lines = [f"digraph {q(name)} {{", "    rankdir=LR;", "    node [shape=box];"]
    for n in graph.nodes:
        label = f"{n.node_id}\\n{n.label}" if n.label != n.node_id else n.node_id
        extra = ", peripheries=2" if n.kind == "stream" else ""
        lines.append(f'    {q(n.node_id)} [label="{label.replace(chr(34), chr(39))}"{extra}];')
    for n in graph.nodes:
        for p in n.inputs:
            if p.producer is None:
                continue
            style = ", style=dashed" if p.has_default else ""
            lines.append(
                f"    {q(p.producer)} -> {q(n.node_id)} [label={q(p.name or str(p.index))}{style}];"
            )
    lines.append("}")
    return "\n".join(lines) + "\n"
