// Usage: ReaderFuzz KIND SEED_FILE FUZZ_SEED FIRST COUNT WORK_DIR MAX_RSS_MIB MAX_SECONDS
//        ReaderFuzz make-safetensors CHECKPOINT OUTPUT
// KIND is pth, safetensors (both through EfficientVitCheckpoint.Load, as `efficientvit info` does) or png
// (through EncodedImageDecoder.Decode). Inputs FIRST .. FIRST+COUNT-1 are mutations of SEED_FILE; each is
// written to WORK_DIR/current.KIND before it is loaded, so the driver can keep it if this process dies.
// A clean refusal (CheckpointException; for images the decoder's InvalidOperationException, or the
// InvalidDataException the image readers use for unreadable files) or a load is
// fine; any other exception, or an input over the memory or time limit, is a failure: the input is copied
// to WORK_DIR/failures and the exit code is 1 (3 for a timeout, from the watchdog).
using System.Diagnostics;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.MLNet;

if (args is ["make-safetensors", var checkpoint, var output])
{
    using var official = EfficientVitCheckpoint.Load(checkpoint);
    EfficientVitCheckpoint.Save(official.Model, output, official.Metadata);
    return 0;
}
if (args.Length != 8)
{
    Console.Error.WriteLine("usage: ReaderFuzz KIND SEED_FILE FUZZ_SEED FIRST COUNT WORK_DIR MAX_RSS_MIB MAX_SECONDS | make-safetensors CHECKPOINT OUTPUT");
    return 2;
}

string kind = args[0];
byte[] seedFile = File.ReadAllBytes(args[1]);
int fuzzSeed = int.Parse(args[2]);
int first = int.Parse(args[3]);
int count = int.Parse(args[4]);
string workDir = args[5];
var limits = new Limits(long.Parse(args[6]) << 20, TimeSpan.FromSeconds(double.Parse(args[7])));
Action<string> load = kind switch
{
    "pth" or "safetensors" => LoadCheckpoint,
    "png" => DecodeImage,
    _ => throw new ArgumentException($"unknown kind '{kind}' (pth, safetensors, png)"),
};

Directory.CreateDirectory(Path.Combine(workDir, "failures"));
string current = Path.Combine(workDir, $"current.{kind}");
var mutator = new Mutator(seedFile, hotBytes: 128 << 10);
int refused = 0, loaded = 0, failures = 0;
var clock = Stopwatch.StartNew();
for (int index = first; index < first + count; index++)
{
    File.WriteAllBytes(current, mutator.Mutate(fuzzSeed, index));
    string name = $"{kind}-{fuzzSeed}-{index}";
    string? problem;
    limits.Begin(name);
    try
    {
        load(current);
        loaded++;
        problem = limits.End();
    }
    catch (Exception e) when (e is CheckpointException || (kind == "png" && e is InvalidOperationException or InvalidDataException))
    {
        refused++;
        problem = limits.End() ?? (e.Message.Contains('\n') ? $"the refusal is not one line: {e.Message}" : null);
    }
    catch (Exception e)
    {
        limits.End();
        problem = $"{e.GetType().Name}: {e.Message.Split('\n')[0]}";
    }
    if (problem is not null)
    {
        failures++;
        string kept = Path.Combine(workDir, "failures", name + "." + kind);
        File.Copy(current, kept, overwrite: true);
        Console.WriteLine($"FAIL {name}: {problem} (input kept as {kept})");
    }
}
Console.WriteLine($"{kind} {first}..{first + count - 1}: {count} inputs, {refused} refused, {loaded} loaded, {failures} failures, " +
    $"peak RSS {limits.PeakResidentBytes >> 20} MiB, {clock.Elapsed.TotalSeconds:F0} s");
return failures == 0 ? 0 : 1;

static void LoadCheckpoint(string path)
{
    using var checkpoint = EfficientVitCheckpoint.Load(path);
}

static void DecodeImage(string path)
{
    var decoded = new EncodedImageDecoder.Decoded();
    EncodedImageDecoder.Decode(new EncodedImageDecoder.Encoded { Bytes = File.ReadAllBytes(path) }, decoded);
    decoded.Image?.Dispose();
}
