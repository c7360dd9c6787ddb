namespace EfficientViT.ML.Data;

/// <summary>
/// Geometric operations on 8-bit HWC images, with PIL's Image.transform(AFFINE) convention: the
/// coefficients (a, b, c, d, e, f) map an output pixel centre (x, y) to the source point
/// (a·x + b·y + c, d·x + e·y + f), which is sampled bilinearly; points outside the image get the fill value.
/// </summary>
internal static class AffineOps
{
    /// <summary>Applies the affine map (same size output).</summary>
    public static ImageSample Affine(ImageSample image, double a, double b, double c, double d, double e, double f, byte fill)
    {
        int width = image.Width, height = image.Height, channels = image.Channels;
        var source = image.Pixels;
        var output = new byte[source.Length];
        for (var y = 0; y < height; y++)
        {
            var v = y + 0.5;
            for (var x = 0; x < width; x++)
            {
                var u = x + 0.5;
                var sx = a * u + b * v + c;
                var sy = d * u + e * v + f;
                var target = (y * width + x) * channels;
                if (sx < 0 || sy < 0 || sx >= width || sy >= height)
                {
                    output.AsSpan(target, channels).Fill(fill);
                    continue;
                }

                // From continuous coordinates to pixel-centre ones, clamped so that edge pixels blend with themselves.
                var px = Math.Max(sx - 0.5, 0);
                var py = Math.Max(sy - 0.5, 0);
                var x0 = Math.Min((int)px, width - 1);
                var y0 = Math.Min((int)py, height - 1);
                var x1 = Math.Min(x0 + 1, width - 1);
                var y1 = Math.Min(y0 + 1, height - 1);
                var wx = px - x0;
                var wy = py - y0;
                for (var ch = 0; ch < channels; ch++)
                {
                    double p00 = source[(y0 * width + x0) * channels + ch], p01 = source[(y0 * width + x1) * channels + ch];
                    double p10 = source[(y1 * width + x0) * channels + ch], p11 = source[(y1 * width + x1) * channels + ch];
                    var top = p00 + wx * (p01 - p00);
                    var bottom = p10 + wx * (p11 - p10);
                    output[target + ch] = (byte)Math.Clamp((int)(top + wy * (bottom - top) + 0.5), 0, 255);
                }
            }
        }
        return image.WithPixels(output, width, height);
    }

    /// <summary>PIL's Image.rotate(degrees): counter-clockwise about the image centre, same size.</summary>
    public static ImageSample Rotate(ImageSample image, double degrees, byte fill)
    {
        var angle = -degrees * Math.PI / 180.0;
        double cos = Math.Cos(angle), sin = Math.Sin(angle);
        double cx = image.Width / 2.0, cy = image.Height / 2.0;
        // The inverse rotation about the centre: translate to the centre, rotate, translate back.
        return Affine(image, cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy, fill);
    }

    /// <summary>Horizontal shear: the source x is x + factor·y.</summary>
    public static ImageSample ShearX(ImageSample image, double factor, byte fill) => Affine(image, 1, factor, 0, 0, 1, 0, fill);

    /// <summary>Vertical shear: the source y is factor·x + y.</summary>
    public static ImageSample ShearY(ImageSample image, double factor, byte fill) => Affine(image, 1, 0, 0, factor, 1, 0, fill);

    /// <summary>Shift: the source is (x + dx, y + dy), so positive values move the content left / up.</summary>
    public static ImageSample Translate(ImageSample image, double dx, double dy, byte fill) => Affine(image, 1, 0, dx, 0, 1, dy, fill);
}
