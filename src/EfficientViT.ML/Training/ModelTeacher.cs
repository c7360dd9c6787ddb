using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>An EfficientViT checkpoint of this library (or an official one) as the teacher, run in eval mode and BN-fused.</summary>
public sealed class ModelTeacher : ITeacher
{
    private readonly EfficientVit model;
    private readonly FastLayers fast;

    /// <summary>Loads the teacher from <paramref name="checkpointPath"/>.</summary>
    public ModelTeacher(string checkpointPath)
    {
        model = EfficientVitCheckpoint.Load(checkpointPath).Model;
        if (model.Config.NumClasses == 0)
            throw new ArgumentException($"{checkpointPath}: the teacher has no classifier head.", nameof(checkpointPath));
        model.FuseBatchNorm();
        // The same outputs as the model's own layers, faster (see FastLayers).
        fast = FastLayers.Install(model);
    }

    /// <inheritdoc/>
    public int NumClasses => model.Config.NumClasses;

    /// <inheritdoc/>
    public Tensor Logits(Tensor images)
    {
        using var noGrad = no_grad();
        if (images.shape[2] != model.Config.ImageSize)
            images = nn.functional.interpolate(images, [model.Config.ImageSize, model.Config.ImageSize], mode: InterpolationMode.Bilinear, align_corners: false);
        return model.forward(images).detach();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        fast.Dispose();
        model.Dispose();
    }
}
