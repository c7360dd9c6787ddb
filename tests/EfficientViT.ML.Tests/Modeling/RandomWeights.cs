using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Modeling;

/// <summary>
/// Gives a module non-trivial weights, as the official fixture does: BN scale U(0.5, 1.5), shift
/// U(-0.1, 0.1), running mean N(0, 0.1²), running variance U(0.05, 4), attention biases U(-1, 1), so
/// that every branch contributes and fusion has real statistics to fold.
/// </summary>
internal static class RandomWeights
{
    public static void Apply(nn.Module module, long seed = 7)
    {
        var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, value) in module.state_dict())
        {
            if (value.dtype != ScalarType.Float32)
                continue;
            Tensor Uniform(double low, double high) => rand(value.shape, generator: generator) * (high - low) + low;
            if (name.EndsWith("bn.weight", StringComparison.Ordinal)) value.copy_(Uniform(0.5, 1.5));
            else if (name.EndsWith("bn.bias", StringComparison.Ordinal)) value.copy_(Uniform(-0.1, 0.1));
            else if (name.EndsWith("running_mean", StringComparison.Ordinal)) value.copy_(randn(value.shape, generator: generator) * 0.1);
            else if (name.EndsWith("running_var", StringComparison.Ordinal)) value.copy_(Uniform(0.05, 4));
            else if (name.EndsWith("attention_biases", StringComparison.Ordinal)) value.copy_(Uniform(-1, 1));
        }
    }
}
