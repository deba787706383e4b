"""Small straight-line BPMN diagrams with their drawing (DI), for browser tests that need one.

``linear_bpmn("p", "Name", [("startEvent", "s", "", ""), ("userTask", "t", 'name="T"', ""), ...])``
lays the steps out left to right and joins each to the next with a sequence flow ``f1``, ``f2``...
"""

from __future__ import annotations

NAMESPACES = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
              'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
              'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
              'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"')
EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent")


def linear_bpmn(process_id: str, name: str, steps: list[tuple[str, str, str, str]], *, before: str = "") -> bytes:
    """One executable process: ``steps`` are (tag, id, attributes, body); ``before`` goes ahead of it
    (``bpmn:message`` declarations)."""
    elements, shapes, flows, edges = [], [], [], []
    x = 150
    boxes: list[tuple[int, int, int, int]] = []
    for tag, element_id, attrs, body in steps:
        elements.append(f'<bpmn:{tag} id="{element_id}" {attrs}>{body}</bpmn:{tag}>')
        w, h = (36, 36) if tag in EVENTS else (110, 80)
        y = 200 - h // 2
        shapes.append(f'<bpmndi:BPMNShape id="{element_id}_di" bpmnElement="{element_id}">'
                      f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/></bpmndi:BPMNShape>')
        boxes.append((x, y, w, h))
        x += w + 70
    for n in range(1, len(steps)):
        source, target = steps[n - 1][1], steps[n][1]
        flows.append(f'<bpmn:sequenceFlow id="f{n}" sourceRef="{source}" targetRef="{target}"/>')
        (sx, _, sw, _), (tx, _, _, _) = boxes[n - 1], boxes[n]
        edges.append(f'<bpmndi:BPMNEdge id="f{n}_di" bpmnElement="f{n}"><di:waypoint x="{sx + sw}" y="200"/>'
                     f'<di:waypoint x="{tx}" y="200"/></bpmndi:BPMNEdge>')
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NAMESPACES} id="{process_id}_defs" '
           f'targetNamespace="https://baton.example/tests">{before}'
           f'<bpmn:process id="{process_id}" name="{name}" isExecutable="true">{"".join(elements)}{"".join(flows)}'
           f'</bpmn:process><bpmndi:BPMNDiagram id="{process_id}_diagram">'
           f'<bpmndi:BPMNPlane id="{process_id}_plane" bpmnElement="{process_id}">{"".join(shapes)}{"".join(edges)}'
           f'</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>')
    return xml.encode()
