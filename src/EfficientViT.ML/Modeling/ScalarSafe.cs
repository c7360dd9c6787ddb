using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// Tensor arithmetic whose <see cref="Scalar"/>s stay reachable until libtorch has read them.
/// TorchSharp turns the number in <c>x * 0.5</c>, and the hidden factor 1 of <c>a + b</c>, into a
/// Scalar that nothing references once the native call has begun. A garbage collection started by
/// another thread at that moment (an ML.NET cursor, a data loader) lets the finalizer thread free the
/// Scalar while libtorch still reads it, and the process ends with "Expected false to be true" or
/// "Unknown scalar type". Constants here live as long as the process; other values are disposed only
/// after the call has returned.
/// </summary>
internal static class ScalarSafe
{
    /// <summary>The factor 1, for additions and counters.</summary>
    public static readonly Scalar One = 1;

    /// <summary><paramref name="a"/> + <paramref name="b"/>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="a"/> + <paramref name="b"/>, element-wise.</summary>
    public static Tensor Plus(this Tensor a, double b) => WithScalar(b, value => a.add(value, One));

    /// <summary><paramref name="a"/> · <paramref name="b"/>.</summary>
    public static Tensor Times(this Tensor a, double b) => WithScalar(b, value => a.mul(value));

    /// <summary><paramref name="a"/> / <paramref name="b"/>.</summary>
    public static Tensor DividedBy(this Tensor a, double b) => WithScalar(b, value => a.div(value));

    /// <summary>max(<paramref name="a"/>, <paramref name="min"/>), element-wise.</summary>
    public static Tensor AtLeast(this Tensor a, double min) => WithScalar(min, value => a.clamp_min(value));

    /// <summary>Multiplies <paramref name="a"/> by <paramref name="b"/> in place.</summary>
    public static Tensor TimesInPlace(this Tensor a, double b) => WithScalar(b, value => a.mul_(value));

    // The Scalar is disposed, and so kept reachable, only after the operation has returned.
    private static Tensor WithScalar(double number, Func<Scalar, Tensor> operation)
    {
        using var value = number.ToScalar();
        return operation(value);
    }
}
