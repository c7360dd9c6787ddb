using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Data;

/// <summary>
/// Turns an <see cref="ImageSample"/> into model input: a float array of 3×S×S (channel-major; grayscale is
/// repeated into all three channels), each channel normalized as (pixel/255 − mean)/std, with the size,
/// crop and statistics of an <see cref="ImagePreprocessing"/>.
/// <para>
/// Training (timm's recipe): optional <see cref="RandAugment"/> on the whole image, random-resized-crop to
/// S×S, horizontal flip, then random erasing on the normalized result. Evaluation: resize the short side to
/// <see cref="ImagePreprocessing.ResizeSize"/> and take the centre S×S. Both resize with the record's
/// <see cref="ImagePreprocessing.Interpolation"/> as PIL does (<see cref="FilteredResize"/>): evaluation then
/// gives the featurizer's input for an S×S image, exactly. A record written before that field (null) resizes as
/// the transforms of those versions did: bilinear without antialiasing (<see cref="BilinearResize"/>).
/// </para>
/// All randomness comes from the <see cref="Random"/> passed to <see cref="Apply(ImageSample, Random?, Span{float})"/>,
/// so the same seed gives the same output. Instances are immutable and safe to share between threads.
/// </summary>
public sealed class ImageTransform
{
    // Per channel, the normalized value of each byte value: computed once in double, so that the result is
    // exactly (v/255 − mean)/std rounded to float, and the per-pixel work is a table look-up.
    private readonly float[][] normalized;

    /// <summary>Creates a transform with the augmentation options at their defaults (timm's ImageNet training recipe).</summary>
    /// <param name="preprocessing">The output size S, the evaluation crop, and the per-channel mean and std (checked).</param>
    /// <param name="train">Random augmentation (true) or deterministic resize and centre crop (false).</param>
    public ImageTransform(ImagePreprocessing preprocessing, bool train)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        Preprocessing = preprocessing.Validate();
        Train = train;
        normalized = new float[3][];
        for (var c = 0; c < 3; c++)
        {
            normalized[c] = new float[256];
            for (var v = 0; v < 256; v++)
                normalized[c][v] = (float)((v / 255.0 - preprocessing.Mean[c]) / preprocessing.Std[c]);
        }
    }

    /// <summary>The size, evaluation crop and normalization this transform applies.</summary>
    public ImagePreprocessing Preprocessing { get; }

    /// <summary>The output side S: outputs are 3×S×S.</summary>
    public int ImageSize => Preprocessing.ImageSize;

    /// <summary>Whether the random training augmentations are applied.</summary>
    public bool Train { get; }

    /// <summary>Training: the range of the crop's area as a share of the image. Default (0.08, 1).</summary>
    public (double Min, double Max) Scale
    {
        get;
        init => field = value.Min > 0 && value.Min <= value.Max && value.Max <= 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Scale), value, "need 0 < Min <= Max <= 1");
    } = (0.08, 1.0);

    /// <summary>Training: the range of the crop's aspect ratio (width/height). Default (3/4, 4/3).</summary>
    public (double Min, double Max) Ratio
    {
        get;
        init => field = value.Min > 0 && value.Min <= value.Max
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Ratio), value, "need 0 < Min <= Max");
    } = (3.0 / 4.0, 4.0 / 3.0);

    /// <summary>Training: the probability of a horizontal flip. Default 0.5; use 0 for data whose meaning changes when mirrored (digits, text).</summary>
    public double HorizontalFlip
    {
        get;
        init => field = value is >= 0 and <= 1 ? value : throw new ArgumentOutOfRangeException(nameof(HorizontalFlip), value, "must be in [0, 1]");
    } = 0.5;

    /// <summary>Training: the probability of erasing one random box with normal noise (timm's mode 'pixel'). Default 0.25.</summary>
    public double RandomErasing
    {
        get;
        init => field = value is >= 0 and <= 1 ? value : throw new ArgumentOutOfRangeException(nameof(RandomErasing), value, "must be in [0, 1]");
    } = 0.25;

    /// <summary>Training: RandAugment applied to the whole image before the crop, or null (default) for none.</summary>
    public RandAugment? RandAugment { get; init; }

    /// <summary>The number of floats one output holds: 3·S·S.</summary>
    public int OutputLength => Preprocessing.InputLength;

    /// <summary>
    /// Fashion-MNIST (<see cref="ImagePreprocessing.FashionMnist"/>: its mean and std, no centre-crop margin),
    /// and for training light augmentation: crops of 80%–100% of the image, flips (clothes are left–right
    /// symmetric) and random erasing with probability 0.1. Such small images lose the garment in smaller
    /// crops; on 60,000 images and a few epochs, ImageNet-strength augmentation under-fits (M0 at 64×64:
    /// 91.43% test top-1 after 20 epochs with crops of 35%–100% and erasing 0.25, 91.95% after 16 epochs
    /// with crops of 60%–100%; at 112×112, 13 epochs: 92.66% with crops of 60%–100%, 93.59% with 80%–100%).
    /// </summary>
    /// <param name="imageSize">The output side S.</param>
    /// <param name="train">Training (random) or evaluation transform.</param>
    public static ImageTransform FashionMnist(int imageSize, bool train) => FashionMnist(ImagePreprocessing.FashionMnist(imageSize), train);

    /// <summary>Fashion-MNIST's augmentation (see <see cref="FashionMnist(int, bool)"/>) with <paramref name="preprocessing"/>.</summary>
    /// <param name="preprocessing">The output size, statistics and interpolation.</param>
    /// <param name="train">Training (random) or evaluation transform.</param>
    public static ImageTransform FashionMnist(ImagePreprocessing preprocessing, bool train) =>
        new(preprocessing, train)
        {
            Scale = (0.8, 1.0),
            RandomErasing = 0.1,
        };

    /// <summary>ImageNet's preprocessing (<see cref="ImagePreprocessing.ImageNet"/>) with every augmentation option at its default (timm's recipe).</summary>
    /// <param name="imageSize">The output side S.</param>
    /// <param name="train">Training (random) or evaluation transform.</param>
    public static ImageTransform ImageNet(int imageSize, bool train) => new(ImagePreprocessing.ImageNet(imageSize), train);

    /// <summary>
    /// This transform at another output side, with the same augmentation and statistics (the evaluation crop keeps its
    /// fraction): the images of a low-to-high resolution schedule's earlier epochs.
    /// </summary>
    /// <param name="imageSize">The output side S.</param>
    public ImageTransform WithImageSize(int imageSize) => imageSize == ImageSize
        ? this
        : new(Preprocessing.WithImageSize(imageSize), Train)
        {
            Scale = Scale,
            Ratio = Ratio,
            HorizontalFlip = HorizontalFlip,
            RandomErasing = RandomErasing,
            RandAugment = RandAugment,
        };

    /// <summary>Transforms one sample into a new array of <see cref="OutputLength"/> floats.</summary>
    /// <param name="sample">The image; it is not modified.</param>
    /// <param name="random">The source of randomness; required when <see cref="Train"/> is set, unused otherwise.</param>
    public float[] Apply(ImageSample sample, Random? random = null)
    {
        var output = new float[OutputLength];
        Apply(sample, random, output);
        return output;
    }

    /// <summary>Transforms one sample into <paramref name="destination"/> (<see cref="OutputLength"/> floats, CHW).</summary>
    /// <param name="sample">The image; it is not modified.</param>
    /// <param name="random">The source of randomness; required when <see cref="Train"/> is set, unused otherwise.</param>
    /// <param name="destination">Receives the 3×S×S normalized values.</param>
    public void Apply(ImageSample sample, Random? random, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (destination.Length != OutputLength)
            throw new ArgumentException($"the destination needs {OutputLength} floats (3x{ImageSize}x{ImageSize}); found {destination.Length}.", nameof(destination));
        if (!Train)
        {
            Normalize(CenterCrop(sample), sample.Channels, flip: false, destination);
            return;
        }

        ArgumentNullException.ThrowIfNull(random);
        var image = RandAugment is null ? sample : RandAugment.Apply(sample, random);
        var (x, y, w, h) = RandomResizedCrop.Sample(image.Width, image.Height, Scale, Ratio, random);
        var pixels = Resize(image, x, y, w, h, ImageSize, ImageSize, 0, 0);
        var flip = HorizontalFlip > 0 && random.NextDouble() < HorizontalFlip;
        Normalize(pixels, image.Channels, flip, destination);
        Data.RandomErasing.Apply(destination, 3, ImageSize, ImageSize, RandomErasing, random);
    }

    /// <summary>torchvision's Resize(ResizeSize) then CenterCrop(S), in one resampling pass.</summary>
    private byte[] CenterCrop(ImageSample sample)
    {
        int width = sample.Width, height = sample.Height;
        var shortSide = Preprocessing.ResizeSize;
        // Like torchvision, the long side is truncated: int(size * long / short).
        int scaledWidth, scaledHeight;
        if (width <= height)
            (scaledWidth, scaledHeight) = (shortSide, (int)((long)shortSide * height / width));
        else
            (scaledWidth, scaledHeight) = ((int)((long)shortSide * width / height), shortSide);
        // Python's round (halves to even), as torchvision's CenterCrop uses.
        var top = (int)Math.Round((scaledHeight - ImageSize) / 2.0);
        var left = (int)Math.Round((scaledWidth - ImageSize) / 2.0);
        return Resize(sample, 0, 0, width, height, scaledWidth, scaledHeight, left, top);
    }

    /// <summary>The S×S window at (<paramref name="left"/>, <paramref name="top"/>) of a region of the image resized to <paramref name="scaledWidth"/>×<paramref name="scaledHeight"/>.</summary>
    private byte[] Resize(ImageSample sample, int x, int y, int width, int height, int scaledWidth, int scaledHeight, int left, int top) =>
        Preprocessing.Interpolation is { } interpolation
            ? FilteredResize.Sample(sample.Pixels, sample.Width, sample.Height, sample.Channels, x, y, width, height, scaledWidth, scaledHeight, left, top, ImageSize, ImageSize, interpolation)
            : BilinearResize.Sample(sample.Pixels, sample.Width, sample.Height, sample.Channels, x, y, width, height, scaledWidth, scaledHeight, left, top, ImageSize, ImageSize);

    /// <summary>Writes S×S HWC bytes as normalized CHW floats, optionally mirrored, repeating a gray channel three times.</summary>
    private void Normalize(byte[] pixels, int channels, bool flip, Span<float> destination)
    {
        var size = ImageSize;
        for (var c = 0; c < 3; c++)
        {
            var table = normalized[c];
            var sourceChannel = channels == 1 ? 0 : c;
            var plane = destination.Slice(c * size * size, size * size);
            for (var y = 0; y < size; y++)
            {
                var row = y * size;
                for (var x = 0; x < size; x++)
                {
                    var sourceX = flip ? size - 1 - x : x;
                    plane[row + x] = table[pixels[(row + sourceX) * channels + sourceChannel]];
                }
            }
        }
    }
}
