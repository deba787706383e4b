"""BPMN reading and running on SpiffWorkflow: private to the engine."""
