using System.Text.RegularExpressions;
using EfficientViT.ML.Modeling;
using static TorchSharp.torch;

namespace EfficientViT.ML.Checkpoints;

/// <summary>Fits the attention bias tables of a state dict (official names) made for one input size to another.</summary>
internal static partial class AttentionBiasTables
{
    /// <summary>
    /// The state dict with every <c>attention_biases</c> whose window side changes between <paramref name="from"/>
    /// and <paramref name="to"/> resampled, and the <c>attention_bias_idxs</c> buffers of those layers left out
    /// (the model builds its own). Tables that fit stay the same tensors; replaced ones are disposed.
    /// </summary>
    public static Dictionary<string, Tensor> Resample(Dictionary<string, Tensor> tensors, EfficientVitConfig from, EfficientVitConfig to, AttentionBiasResampling mode)
    {
        var result = new Dictionary<string, Tensor>(tensors.Count);
        foreach (var (key, value) in tensors)
        {
            var match = BiasKey().Match(key);
            if (!match.Success)
            {
                result[key] = value;
                continue;
            }
            var stage = StageOf(int.Parse(match.Groups[1].Value));
            int oldSide = from.AttentionWindow(stage), newSide = to.AttentionWindow(stage);
            if (oldSide == newSide)
            {
                result[key] = value;
                continue;
            }
            if (match.Groups[2].Value == "attention_bias_idxs")
            {
                value.Dispose();
                continue;
            }
            var heads = (int)value.shape[0];
            using var values = value.to_type(ScalarType.Float32).contiguous();
            var resampled = AttentionBiasResampler.Resample(values.data<float>().ToArray(), heads, oldSide, newSide, mode);
            result[key] = tensor(resampled, new long[] { heads, newSide * newSide });
            value.Dispose();
        }
        return result;
    }

    // blocks1 is stage 0; the attention blocks of blocks2 and blocks3 are stages 1 and 2.
    private static int StageOf(int blocks) => blocks - 1;

    [GeneratedRegex(@"^blocks([123])\.\d+\.mixer\.m\.attn\.(attention_biases|attention_bias_idxs)$")]
    private static partial Regex BiasKey();
}
