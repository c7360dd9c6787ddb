namespace EfficientViT.ML.Onnx;

/// <summary>
/// Checks that calibration images can calibrate at all, and sets some aside to measure the int8 graph on.
/// </summary>
/// <remarks>
/// Ranges measured on one image, or on images of one flat colour, fit nothing else: such a calibration gave
/// features with a cosine of −0.04 to 0.32 to float32 on ordinary images. The holdout is what makes a
/// bad calibration visible: measured on images it was not calibrated on, the int8 graph shows what it will
/// do on the next image.
/// </remarks>
internal static class Int8CalibrationImages
{
    /// <summary>The fewest distinct images, not of one flat colour, that calibration accepts.</summary>
    public const int MinimumImages = 16;

    /// <summary>Every how many-th image is held out when no holdout is given.</summary>
    public const int HoldoutEvery = 5;

    /// <summary>
    /// Refuses a degenerate set (fewer than <see cref="MinimumImages"/> distinct images that are not one flat
    /// colour per channel), then splits it: every <see cref="HoldoutEvery"/>-th image is held out, unless a
    /// holdout is given, in which case every image calibrates.
    /// </summary>
    /// <param name="images">The calibration images, each (3, S, S).</param>
    /// <param name="holdout">Images to measure on instead of a part of <paramref name="images"/>; may be null.</param>
    public static (IReadOnlyList<float[]> Calibration, IReadOnlyList<float[]> Holdout) Split(
        IReadOnlyList<float[]> images, IReadOnlyList<float[]>? holdout)
    {
        var flat = new List<int>();
        var repeated = 0;
        var seen = new HashSet<ImageKey>();
        for (var i = 0; i < images.Count; i++)
        {
            if (images[i] is not { } image)
                continue;
            if (IsFlat(image))
                flat.Add(i);
            else if (!seen.Add(new ImageKey(image)))
                repeated++;
        }
        if (seen.Count < MinimumImages)
        {
            var detail = images.Count == 0 ? "none were given" :
                $"of the {images.Count} given, {seen.Count} qualify" +
                (flat.Count > 0 ? $"; {flat.Count} are one flat colour (image{(flat.Count > 1 ? "s" : "")} {string.Join(", ", flat.Take(5))}{(flat.Count > 5 ? ", …" : "")})" : "") +
                (repeated > 0 ? $"; {repeated} repeat an earlier image" : "");
            throw new ArgumentException(
                $"Int8 calibration needs at least {MinimumImages} distinct images that are not one flat colour, and a few hundred like the ones the model will see; {detail}.");
        }
        if (holdout is not null)
        {
            if (holdout.Count == 0)
                throw new ArgumentException($"The int8 holdout images are empty; give some, or none to hold out every {HoldoutEvery}th calibration image.");
            return (images, holdout);
        }
        var calibration = new List<float[]>();
        var heldOut = new List<float[]>();
        for (var i = 0; i < images.Count; i++)
            (i % HoldoutEvery == HoldoutEvery - 1 ? heldOut : calibration).Add(images[i]);
        return (calibration, heldOut);
    }

    // One colour per channel: every value of each of the three planes is the same.
    private static bool IsFlat(float[] image)
    {
        var plane = image.Length / 3;
        for (var c = 0; c < 3; c++)
        {
            var span = image.AsSpan(c * plane, plane);
            foreach (var v in span)
            {
                if (v != span[0])
                    return false;
            }
        }
        return true;
    }

    /// <summary>An image compared by its values, for counting repeats.</summary>
    private readonly struct ImageKey(float[] values) : IEquatable<ImageKey>
    {
        private readonly float[] values = values;
        private readonly int hash = HashOf(values);

        private static int HashOf(float[] values)
        {
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            return hash.ToHashCode();
        }

        public bool Equals(ImageKey other) => hash == other.hash && values.AsSpan().SequenceEqual(other.values);

        public override bool Equals(object? obj) => obj is ImageKey other && Equals(other);

        public override int GetHashCode() => hash;
    }
}
