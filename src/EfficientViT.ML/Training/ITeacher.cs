using TorchSharp;

namespace EfficientViT.ML.Training;

/// <summary>
/// A teacher for knowledge distillation: class logits for the batch the student sees (the same
/// normalized images, after mixing), over the same classes in the same order.
/// </summary>
public interface ITeacher : IDisposable
{
    /// <summary>Classes the teacher predicts.</summary>
    int NumClasses { get; }

    /// <summary>Logits (B, classes) for <paramref name="images"/> (B, 3, S, S); no gradient flows into them.</summary>
    torch.Tensor Logits(torch.Tensor images);
}
