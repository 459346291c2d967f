"""Lead-funnel segmentation: every lead placed on its funnel stage with the evidence, its fit and intent,
its owner and next action. The foundation modules sit here; each stage of the data flow has a folder."""
