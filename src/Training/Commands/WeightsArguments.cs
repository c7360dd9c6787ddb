using System.CommandLine;
using EfficientViT.ML.Checkpoints.Pretrained;

namespace EfficientViT.Training.Commands;

/// <summary>
/// <c>--weights NAME|CHECKPOINT</c> of every command that loads a checkpoint: a file, or a pretrained name that is
/// downloaded once into the cache (see <see cref="EfficientVitPretrained"/>).
/// </summary>
internal static class WeightsArguments
{
    public static readonly string Help =
        $"A checkpoint file (.pth, .safetensors) or a pretrained name: {string.Join(", ", EfficientVitPretrained.Names.Take(6))} (official) or " +
        $"{EfficientVitPretrained.Names[6]} … (timm); a name is downloaded once into the cache ({PretrainedWeightsOptions.HomeVariable}).";

    /// <summary><c>--weights</c>, also spelled <c>--checkpoint</c> (its earlier name).</summary>
    public static Option<string?> Option(string? description = null, bool required = false) => new("--weights", "--checkpoint")
    {
        Description = description ?? Help,
        Required = required,
    };

    /// <summary>The optional CHECKPOINT argument of <c>info</c> and <c>export</c>, which also take <c>--weights</c>.</summary>
    public static Argument<string?> Argument() => new("checkpoint")
    {
        Description = "A checkpoint file or a pretrained name (or give it as --weights).",
        Arity = ArgumentArity.ZeroOrOne,
    };

    /// <summary>The file <paramref name="value"/> names: itself, or a pretrained name's file (downloaded when needed).</summary>
    public static string Resolve(string value) => Path.GetFullPath(EfficientVitPretrained.Resolve(value));

    /// <summary>The checkpoint given as the argument or as <c>--weights</c> (exactly one of them), resolved to a file.</summary>
    public static string Resolve(ParseResult parse, Argument<string?> argument, Option<string?> option, string command)
    {
        var (positional, named) = (parse.GetValue(argument), parse.GetValue(option));
        if (positional is not null && named is not null)
            throw new ArgumentException($"{command}: give the checkpoint once, as an argument or as --weights, not both ('{positional}', '{named}').");
        var value = positional ?? named
            ?? throw new ArgumentException($"{command} needs a checkpoint: a file or a pretrained name, e.g. `efficientvit {command} m0` or `--weights m0`.");
        return Resolve(value);
    }
}
