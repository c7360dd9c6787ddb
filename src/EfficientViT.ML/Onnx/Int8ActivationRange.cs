namespace EfficientViT.ML.Onnx;

/// <summary>
/// The float range [<see cref="Min"/>, <see cref="Max"/>] that one activation of the graph is quantized to
/// uint8 over; values outside it saturate.
/// </summary>
/// <param name="Min">The lowest value represented; zero is always inside the range.</param>
/// <param name="Max">The highest value represented.</param>
public readonly record struct Int8ActivationRange(float Min, float Max)
{
    /// <summary>
    /// The uint8 scale and zero point of this range as ONNX Runtime's quantization tool computes them:
    /// the range is widened to hold 0 (so that zero padding and ReLU's zero are exact), then split into
    /// 255 steps.
    /// </summary>
    internal (float Scale, byte ZeroPoint) ToUInt8()
    {
        var min = Math.Min(Min, 0f);
        var max = Math.Max(Max, 0f);
        var scale = (max - min) / 255f;
        // A constant-zero activation: any positive scale represents it exactly.
        if (!(scale > 0f) || !float.IsFinite(scale))
            return (1f, 0);
        var zeroPoint = Math.Clamp(MathF.Round(-min / scale), 0f, 255f);
        return (scale, (byte)zeroPoint);
    }
}
