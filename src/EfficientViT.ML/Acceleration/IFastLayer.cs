using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>A layer of the model computed faster by a subclass that shares its modules and tensors (see <see cref="FastLayers"/>).</summary>
internal interface IFastLayer
{
    /// <summary>The model's own layer, which the model keeps registered.</summary>
    nn.Module Layer { get; }
}
