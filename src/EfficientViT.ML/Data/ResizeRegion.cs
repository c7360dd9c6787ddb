namespace EfficientViT.ML.Data;

/// <summary>The checks shared by the resizes that cut a region, scale it and keep a window of the result.</summary>
internal static class ResizeRegion
{
    /// <summary>Throws an <see cref="ArgumentException"/> when the region is not inside the image or the window not inside the scaled region.</summary>
    public static void Check(int width, int height, int regionX, int regionY, int regionWidth, int regionHeight,
        int scaledWidth, int scaledHeight, int offsetX, int offsetY, int outWidth, int outHeight)
    {
        if (regionX < 0 || regionY < 0 || regionWidth <= 0 || regionHeight <= 0 ||
            regionX + regionWidth > width || regionY + regionHeight > height)
            throw new ArgumentException($"region ({regionX}, {regionY}, {regionWidth}x{regionHeight}) is not inside the {width}x{height} image.");
        if (offsetX < 0 || offsetY < 0 || outWidth <= 0 || outHeight <= 0 ||
            offsetX + outWidth > scaledWidth || offsetY + outHeight > scaledHeight)
            throw new ArgumentException($"window ({offsetX}, {offsetY}, {outWidth}x{outHeight}) is not inside the {scaledWidth}x{scaledHeight} result.");
    }
}
