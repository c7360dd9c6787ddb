namespace EfficientViT.ML.Training;

/// <summary>Knowledge distillation from a teacher's logits into the model's distillation head, as in DeiT.</summary>
public enum DistillationMode
{
    /// <summary>No distillation: only the loss against the targets.</summary>
    None,

    /// <summary>KL divergence between the temperature-softened distributions of student and teacher.</summary>
    Soft,

    /// <summary>Cross-entropy against the teacher's arg-max class.</summary>
    Hard,
}
