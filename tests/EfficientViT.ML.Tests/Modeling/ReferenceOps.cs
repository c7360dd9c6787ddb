using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Modeling;

/// <summary>Hand-written eval-mode reference computations from raw state_dict tensors.</summary>
internal static class ReferenceOps
{
    public static Tensor ConvBN(Tensor x, IDictionary<string, Tensor> weights, string prefix, long stride = 1, long padding = 0, long groups = 1)
    {
        var conv = nn.functional.conv2d(x, weights[prefix + ".c.weight"], null, new[] { stride }, new[] { padding }, groups: groups);
        return nn.functional.batch_norm(conv,
            weights[prefix + ".bn.running_mean"], weights[prefix + ".bn.running_var"],
            weights[prefix + ".bn.weight"], weights[prefix + ".bn.bias"], training: false, eps: 1e-5);
    }
}
