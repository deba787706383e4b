// esbuild entry (Makefile vendor rule) -> web/static/vendor/baton-modeler.js, an IIFE that sets
// window.BatonModelerKit. bpmn-js's Modeler and the properties panel come from one bundle so
// they share one diagram-js; the prebuilt bpmn-modeler UMD would carry its own copy.
import BpmnModeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
  ZeebePropertiesProviderModule,
} from 'bpmn-js-properties-panel';
import CamundaPlatformBehaviors from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import ZeebeBehaviors from 'camunda-bpmn-js-behaviors/lib/camunda-cloud';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import zeebeModdle from 'zeebe-bpmn-moddle/resources/zeebe.json';

const ZEEBE_NS = 'http://camunda.org/schema/zeebe/1.0';

// The dialect decides the moddle and the panel's providers: a diagram that declares Zeebe's
// namespace is edited with Zeebe's properties (task definition type, zeebe:ioMapping ...),
// everything else with Camunda 7's (camunda:topic, camunda:inputOutput ...).
function createModeler(options, xml) {
  const zeebe = typeof xml === 'string' && xml.includes(ZEEBE_NS);
  const modeler = new BpmnModeler({
    container: options.container,
    propertiesPanel: { parent: options.propertiesParent },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      zeebe ? ZeebePropertiesProviderModule : CamundaPlatformPropertiesProviderModule,
      zeebe ? ZeebeBehaviors : CamundaPlatformBehaviors,
    ],
    moddleExtensions: zeebe ? { zeebe: zeebeModdle } : { camunda: camundaModdle },
  });
  return { modeler, dialect: zeebe ? 'zeebe' : 'camunda7' };
}

window.BatonModelerKit = { createModeler };
