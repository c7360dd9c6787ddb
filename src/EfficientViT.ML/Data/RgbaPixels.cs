using System.Buffers;

namespace EfficientViT.ML.Data;

/// <summary>Decoded RGBA pixels (straight alpha, rows packed) in a buffer rented from the shared array pool.</summary>
internal sealed class RgbaPixels(int width, int height, bool hasAlpha) : IDisposable
{
    public int Width => width;

    public int Height => height;

    /// <summary>Whether the encoded image declares transparency (otherwise every alpha byte is 255).</summary>
    public bool HasAlpha => hasAlpha;

    /// <summary>The rented buffer: it may be longer than <see cref="Span"/>.</summary>
    internal byte[] Buffer { get; private set; } = ArrayPool<byte>.Shared.Rent(checked(width * height * 4));

    public Span<byte> Span => Buffer.AsSpan(0, width * height * 4);

    public void Dispose()
    {
        if (Buffer.Length == 0)
            return;
        ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = [];
    }
}
