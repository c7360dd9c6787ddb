using System.CommandLine;
using EfficientViT.ML.Checkpoints.Pretrained;

namespace EfficientViT.Training.Commands;

/// <summary><c>efficientvit weights list|download|pack</c>: the pretrained names, the cache, and weights packages for machines without internet.</summary>
internal static class WeightsCommand
{
    public static Command Create()
    {
        var command = new Command("weights", "Pretrained weights: list the names, download into the cache, pack into a NuGet package.")
        {
            List(),
            Download(),
            Pack(),
        };
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List the pretrained names, their sources and whether each is cached.");
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var options = PretrainedWeightsOptions.FromEnvironment();
            Console.WriteLine($"cache: {options.CacheFolder}" + (options.Offline ? " (offline)" : "") + (options.MirrorUrl is { } mirror ? $"; mirror: {mirror}" : ""));
            var width = EfficientVitPretrained.Models.Max(m => m.Name.Length);
            foreach (var model in EfficientVitPretrained.Models)
            {
                var cached = Path.Combine(options.CacheFolder, model.FileName);
                var state = File.Exists(cached) ? $"cached, {new FileInfo(cached).Length / 1024.0 / 1024.0:F1} MiB" : "not cached";
                Console.WriteLine($"{model.Name.PadRight(width)}  EfficientViT-{model.Variant}  {model.Format,-16}  {state,-20}  {options.UrlOf(model)}");
            }
        }));
        return command;
    }

    private static Command Download()
    {
        var names = new Argument<string[]>("names") { Description = "Pretrained names (see `weights list`), or 'all'.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("download", "Download weights into the cache (and verify them), e.g. on a connected machine before copying the cache.") { names };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var values = parse.GetValue(names)!;
            var models = values.Length == 1 && values[0] == "all" ? EfficientVitPretrained.Models : values.Select(EfficientVitPretrained.Get).ToList();
            var options = PretrainedWeightsOptions.FromEnvironment();
            foreach (var model in models)
                Console.WriteLine($"{model.Name}: {EfficientVitPretrained.Resolve(model, options)}");
        }));
        return command;
    }

    private static Command Pack()
    {
        var name = new Argument<string>("name") { Description = "The pretrained name whose weights to pack." };
        var file = new Option<FileInfo?>("--file") { Description = "Pack this file as the name's weights (checked as a download is) instead of the cached or downloaded one." };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "The folder to write the .nupkg to (a local package feed).", DefaultValueFactory = _ => new DirectoryInfo(".") };
        var id = new Option<string?>("--id") { Description = "The package id; default EfficientViT.Weights.M0 (timm's: EfficientViT.Weights.Timm.M0)." };
        var version = new Option<string>("--version") { Description = "The package version.", DefaultValueFactory = _ => "1.0.0" };
        var command = new Command("pack", "Pack weights into a NuGet package that copies them into an application's output, where the library finds them without a download.") { name, file, output, id, version };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var model = EfficientVitPretrained.Get(parse.GetValue(name)!);
            var weights = parse.GetValue(file) is { } given
                ? (given.Exists ? given.FullName : throw new FileNotFoundException($"{given.FullName}: no such file."))
                : EfficientVitPretrained.Resolve(model);
            var package = WeightsPackage.Pack(model, weights, parse.GetValue(output)!.FullName, parse.GetValue(id), parse.GetValue(version)!);
            Console.WriteLine($"wrote {package}: {model.Name} ({model.FileName}, {new FileInfo(weights).Length / 1024.0 / 1024.0:F1} MiB); " +
                $"reference it from the application, and the file is copied to {PretrainedWeightsOptions.PackagedFolderName}/ in its output");
        }));
        return command;
    }
}
