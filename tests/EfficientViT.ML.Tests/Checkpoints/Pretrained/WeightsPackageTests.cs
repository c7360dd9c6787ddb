using System.Diagnostics;
using EfficientViT.ML.Checkpoints.Pretrained;

namespace EfficientViT.ML.Tests.Checkpoints.Pretrained;

/// <summary>
/// Weights for machines without internet: a weights file packed into a NuGet package, restored from a local folder
/// feed by a fresh application's build, and found by the library in that application's output.
/// </summary>
public sealed class WeightsPackageTests
{
    private static readonly string Fixture = TestFiles.OfficialM0("efficientvit_m0.pth");

    [Fact]
    public void A_packed_weights_file_reaches_the_application_output_and_is_used_there_without_a_download()
    {
        using var folder = new TempDirectory();
        var feed = Directory.CreateDirectory(folder.File("feed")).FullName;
        var package = WeightsPackage.Pack(EfficientVitPretrained.Find("m0")!, Fixture, feed);
        Assert.Equal(Path.Combine(feed, "EfficientViT.Weights.M0.1.0.0.nupkg"), package);

        var app = Directory.CreateDirectory(folder.File("app")).FullName;
        File.WriteAllText(Path.Combine(app, "App.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="EfficientViT.Weights.M0" Version="1.0.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), "return 0;\n");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="weights" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        var output = Path.Combine(app, "out");
        var (exitCode, log) = Build(app, output, packages: folder.File("packages"));
        Assert.True(exitCode == 0, log);

        var packaged = Path.Combine(output, "efficientvit-weights", "efficientvit_m0.pth");
        Assert.Equal(File.ReadAllBytes(Fixture), File.ReadAllBytes(packaged));
        Assert.Equal(File.ReadAllText(packaged + ".sha256"), $"{Sha256Of(Fixture)}  efficientvit_m0.pth\n");

        // Found in the output, offline, with an empty cache that stays empty.
        using var cache = new CacheFolder();
        var options = cache.Options() with { ApplicationFolder = output, Offline = true };
        Assert.Equal(packaged, EfficientVitPretrained.Resolve("m0", options));
        Assert.Null(cache.Snapshot());

        // A packaged file changed after packing is refused by its recorded hash.
        using (var stream = new FileStream(packaged, FileMode.Open))
        {
            stream.Position = 5000;
            var b = stream.ReadByte();
            stream.Position = 5000;
            stream.WriteByte((byte)~b);
        }
        var error = Assert.Throws<PretrainedWeightsException>(() => EfficientVitPretrained.Resolve("m0", options));
        Assert.Contains($"the packaged copy {packaged} has SHA-256", error.Message);
    }

    [Fact]
    public void Packing_a_file_that_is_not_the_named_model_is_refused()
    {
        using var folder = new TempDirectory();
        var error = Assert.Throws<PretrainedWeightsException>(() => WeightsPackage.Pack(EfficientVitPretrained.Find("m2")!, Fixture, folder.Path));
        Assert.StartsWith("m2: not the expected checkpoint:", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    private static string Sha256Of(string path) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));

    // A build as a user runs it: its own NuGet cache, the nuget.config beside the project, nothing inherited from the
    // test host's MSBuild.
    private static (int ExitCode, string Log) Build(string project, string output, string packages)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = project, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "build", "-c", "Release", "-o", output, "--nologo" })
            start.ArgumentList.Add(argument);
        foreach (var variable in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(variable);
        start.Environment["NUGET_PACKAGES"] = packages;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "dotnet build did not finish");
        return (process.ExitCode, stdout + stderr.Result);
    }
}
