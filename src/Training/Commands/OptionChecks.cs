using System.CommandLine;
using EfficientViT.ML.Preprocessing;

using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;

namespace EfficientViT.Training.Commands;

/// <summary>
/// Checks of numeric options, made before any data is read or native code runs (libtorch aborts the
/// process on zero threads instead of reporting it); a failure names the option and its value.
/// </summary>
internal static class OptionChecks
{
    /// <summary>Throws an <see cref="ArgumentException"/> reading "--option value: rule." unless <paramref name="ok"/>.</summary>
    public static void Check(bool ok, Option option, object? value, string rule)
    {
        if (!ok)
            throw new ArgumentException($"{option.Name} {value}: {rule}.");
    }

    /// <summary>The option's value, checked to be at least <paramref name="minimum"/> when given.</summary>
    public static int? AtLeast(ParseResult parse, Option<int?> option, int minimum)
    {
        var value = parse.GetValue(option);
        Check(value is null || value >= minimum, option, value, $"must be at least {minimum}");
        return value;
    }

    /// <inheritdoc cref="AtLeast(ParseResult, Option{int?}, int)"/>
    public static int AtLeast(ParseResult parse, Option<int> option, int minimum)
    {
        var value = parse.GetValue(option);
        Check(value >= minimum, option, value, $"must be at least {minimum}");
        return value;
    }

    /// <inheritdoc cref="AtLeast(ParseResult, Option{int?}, int)"/>
    public static long? AtLeast(ParseResult parse, Option<long?> option, long minimum)
    {
        var value = parse.GetValue(option);
        Check(value is null || value >= minimum, option, value, $"must be at least {minimum}");
        return value;
    }

    /// <summary>The option's value, checked to be finite and in [<paramref name="minimum"/>, <paramref name="maximum"/>) (or above the minimum when <paramref name="exclusiveMinimum"/>).</summary>
    public static double InRange(ParseResult parse, Option<double> option, double minimum, double maximum, bool exclusiveMinimum = false)
    {
        var value = parse.GetValue(option);
        var ok = double.IsFinite(value) && (exclusiveMinimum ? value > minimum : value >= minimum) && value < maximum;
        Check(ok, option, value, $"must be in {(exclusiveMinimum ? "(" : "[")}{minimum}, {maximum})");
        return value;
    }

    /// <summary>The option's value, checked to be positive and finite when given.</summary>
    public static double? Positive(ParseResult parse, Option<double?> option)
    {
        var value = parse.GetValue(option);
        Check(value is null || (double.IsFinite(value.Value) && value > 0), option, value, "must be positive and finite");
        return value;
    }

    /// <summary>
    /// <c>--bias-resampling</c>: how a checkpoint's attention bias tables are fitted to another
    /// <c>--image-size</c> (commands that load a checkpoint).
    /// </summary>
    public static Option<AttentionBiasResampling> BiasResamplingOption() => new("--bias-resampling")
    {
        Description = "How attention bias tables are fitted when --image-size changes a stage's window: Interpolate (bicubic, as timm) or Extend (learned offsets kept, the edge repeated).",
        DefaultValueFactory = _ => AttentionBiasResampling.Interpolate,
    };

    /// <summary><c>--interpolation</c>: the filter of every resize, in place of the one the checkpoint records (or the default, bicubic).</summary>
    public static Option<ImageInterpolation?> InterpolationOption() => new("--interpolation")
    {
        Description = "The filter images are resized with: Bicubic (default; the official and timm transforms) or Bilinear. Default: the checkpoint's (a file of an earlier version: bilinear without antialiasing, as it was trained).",
    };

    /// <summary><c>--start-image-size</c>: the first side of a low-to-high resolution schedule (commands that train).</summary>
    public static Option<int?> StartImageSizeOption() => new("--start-image-size")
    {
        Description = "Low-to-high resolution schedule: the first epochs train at this side (a multiple of 16 below --image-size), growing in steps of 16 to --image-size for the last --full-size-epochs. Faster per epoch.",
    };

    /// <summary><c>--full-size-epochs</c>: the last epochs of a schedule, at the model's side.</summary>
    public static Option<int> FullSizeEpochsOption() => new("--full-size-epochs")
    {
        Description = "With --start-image-size: the last epochs, trained at --image-size.",
        DefaultValueFactory = _ => 3,
    };

    /// <summary><c>--time-budget</c>: the time a run may take (commands that train).</summary>
    public static Option<string?> TimeBudgetOption(string description) => new("--time-budget") { Description = description };

    /// <summary>
    /// The <c>--time-budget</c> value (8m, 90s, 1h30m or seconds), or null when not given; a budget cannot go with
    /// <paramref name="startImageSize"/>'s schedule, which needs the run's length at its start.
    /// </summary>
    public static TimeSpan? TimeBudget(ParseResult parse, Option<string?> option, Option<int?> startImageSize)
    {
        if (parse.GetValue(option) is not { } text)
            return null;
        TimeSpan budget;
        try
        {
            budget = TimeBudgetFormat.Parse(text);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"{option.Name} {e.Message}");
        }
        Check(parse.GetValue(startImageSize) is null, startImageSize, parse.GetValue(startImageSize),
            $"a time budget plans the run's length as it goes, and a low-to-high resolution schedule needs it at the start: give {option.Name} or {startImageSize.Name}, not both");
        return budget;
    }

    /// <summary>An image side: a positive multiple of 16 (the patch embedding's stride), or null for the default.</summary>
    public static int? ImageSize(ParseResult parse, Option<int?> option)
    {
        var value = parse.GetValue(option);
        Check(value is null || (value > 0 && value % 16 == 0 && value <= EfficientVitConfig.MaxImageSize), option, value, $"must be a positive multiple of 16 up to {EfficientVitConfig.MaxImageSize}");
        return value;
    }

    /// <summary>
    /// <c>--start-image-size</c> and <c>--full-size-epochs</c>: the start side (null without a schedule) and the full-size
    /// epochs, checked against the run's <paramref name="epochs"/>.
    /// </summary>
    public static (int? Start, int FullSizeEpochs) ImageSizeSchedule(ParseResult parse, Option<int?> start, Option<int> fullSizeEpochs, int epochs)
    {
        var side = parse.GetValue(start);
        Check(side is null || EfficientVitConfig.IsResizableImageSize(side.Value), start, side, "must be a multiple of 16 from 32");
        var full = parse.GetValue(fullSizeEpochs);
        Check(side is null || TrainingRecipe.IsFullSizeEpochCountValid(full, epochs), fullSizeEpochs, full, $"must be at least 1 and less than --epochs ({epochs})");
        return (side, full);
    }

    /// <summary>Warns on stderr when --image-size runs <paramref name="loaded"/> where some of its weights never trained (see <see cref="ImageSizeTransfer"/>).</summary>
    public static void WarnIfResizedWeightsUntrained(string path, LoadedCheckpoint loaded)
    {
        if (loaded.Metadata.TrainedImageSize is { } trainedSize && trainedSize != loaded.Model.Config.ImageSize
            && ImageSizeTransfer.UntrainedWeightsWarning(loaded.Model.Config with { ImageSize = trainedSize }, loaded.Model.Config.ImageSize) is { } warning)
            Console.Error.WriteLine($"warning: {path}: {warning}");
    }
}
