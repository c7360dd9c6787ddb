using System.IO.Compression;
using System.Text;
using EfficientViT.ML.Checkpoints;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Checkpoints;

/// <summary>
/// The files the official training script (microsoft/Cream, EfficientViT/classification/main.py) writes
/// every epoch, <c>checkpoint_&lt;epoch&gt;.pth</c> = <c>torch.save({'model', 'optimizer', 'lr_scheduler',
/// 'epoch', 'model_ema', 'scaler', 'args'})</c>, load as they are (docs/guide/checkpoints.md, scale.md).
/// The file is the official M0 fixture's pickle and storages with those entries added, laid out as
/// PyTorch 2.x writes it (entries under the file's stem, a byteorder record).
/// </summary>
public class OfficialTrainingCheckpointTests
{
    private const string Prefix = "checkpoint_299";

    [Fact]
    public void A_checkpoint_of_the_official_training_script_loads_its_model_entry()
    {
        using var dir = new TempDirectory();
        var path = dir.File(Prefix + ".pth");
        WriteTrainingCheckpoint(path);

        Assert.Equal(CheckpointFormat.OfficialPyTorch, EfficientVitCheckpoint.DetectFormat(path));
        using var loaded = EfficientVitCheckpoint.Load(path);
        Assert.Equal(CheckpointFormat.OfficialPyTorch, loaded.Format);
        Assert.Equal("M0", loaded.Metadata.Variant);
        Assert.Equal(1000, loaded.Metadata.NumClasses);
        Assert.Equal(224, loaded.Metadata.ImageSize);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = TestFiles.ReadFloat32(TestFiles.OfficialM0("input_2x3x224x224.f32"), 2, 3, 224, 224);
        // 'model' is read, not 'model_ema' (which here holds a single, different tensor).
        var difference = TestFiles.MaxAbsDiff(TestFiles.ReadFloat32(TestFiles.OfficialM0("m0_logits.f32"), 2, 1000), loaded.Model.forward(x));
        Assert.True(difference <= 1e-4f, $"logits differ from the official outputs by {difference}");
    }

    [Fact]
    public void Its_backbone_seeds_a_model_with_other_classes()
    {
        using var dir = new TempDirectory();
        var path = dir.File(Prefix + ".pth");
        WriteTrainingCheckpoint(path);

        using var loaded = EfficientVitCheckpoint.Load(path, new CheckpointLoadOptions { NumClasses = 10, ExcludeHead = true });

        Assert.Equal(10, loaded.Model.Config.NumClasses);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = TestFiles.ReadFloat32(TestFiles.OfficialM0("input_2x3x224x224.f32"), 2, 3, 224, 224);
        var difference = TestFiles.MaxAbsDiff(TestFiles.ReadFloat32(TestFiles.OfficialM0("m0_features.f32"), 2, 192), loaded.Model.PooledFeatures(x));
        Assert.True(difference <= 1e-4f, $"features differ from the official outputs by {difference}");
        Assert.Equal([2L, 10L], loaded.Model.forward(x).shape);
    }

    /// <summary>
    /// The fixture's pickle is <c>{'model': OrderedDict(...)}</c> ending in SETITEM, STOP: the STOP is
    /// dropped and the other entries of main.py's checkpoint dictionary are added with SETITEMS.
    /// </summary>
    private static void WriteTrainingCheckpoint(string path)
    {
        using var fixture = ZipFile.OpenRead(TestFiles.OfficialM0("efficientvit_m0.pth"));
        var fixturePrefix = fixture.Entries.Single(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)).FullName[..^"/data.pkl".Length];
        var modelPickle = ReadAll(fixture.GetEntry(fixturePrefix + "/data.pkl")!);
        Assert.Equal((byte)'s', modelPickle[^2]);
        Assert.Equal((byte)'.', modelPickle[^1]);
        var storages = fixture.Entries.Where(e => e.FullName.StartsWith(fixturePrefix + "/data/", StringComparison.Ordinal)).ToList();
        var next = storages.Count;   // storage keys are "0".."698"; new ones continue the numbering
        string Key() => (next++).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (step, expAvg, expAvgSq, ema) = (Key(), Key(), Key(), Key());

        var rest = new PickleBuilder()
            .Mark()
            .Unicode("optimizer").EmptyDict().Mark()
                .Unicode("state").EmptyDict().Mark()
                    .Int(0).EmptyDict().Mark()
                        .Unicode("step").Tensor("FloatStorage", step, 1, 0, [], [])
                        .Unicode("exp_avg").Tensor("FloatStorage", expAvg, 2, 0, [2], [1])
                        .Unicode("exp_avg_sq").Tensor("FloatStorage", expAvgSq, 2, 0, [2], [1])
                    .SetItems()
                .SetItems()
                .Unicode("param_groups").Op((byte)']').Mark()
                    .EmptyDict().Mark()
                        .Unicode("lr").Float(1e-3)
                        .Unicode("betas").Mark().Float(0.9).Float(0.999).Tuple()
                        .Unicode("eps").Float(1e-8)
                        .Unicode("weight_decay").Float(0.025)
                        .Unicode("amsgrad").Bool(false)
                        .Unicode("foreach").None()
                        .Unicode("maximize").Bool(false)
                        .Unicode("capturable").Bool(false)
                        .Unicode("differentiable").Bool(false)
                        .Unicode("fused").None()
                        .Unicode("initial_lr").Float(1e-3)
                        .Unicode("params").Op((byte)']').Mark().Int(0).Op((byte)'e')
                    .SetItems()
                .Op((byte)'e')
            .SetItems()
            .Unicode("lr_scheduler").EmptyDict().Mark()
                .Unicode("t_initial").Int(300).Unicode("lr_min").Float(1e-5).Unicode("warmup_t").Int(5)
                .Unicode("warmup_lr_init").Float(1e-6).Unicode("t_in_epochs").Bool(true).Unicode("noise_range_t").None()
                .Unicode("base_values").Op((byte)']').Mark().Float(1e-3).Op((byte)'e')
            .SetItems()
            .Unicode("epoch").Int(299)
            .Unicode("model_ema").Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark()
                .Unicode("head.l.bias").Tensor("FloatStorage", ema, 2, 0, [2], [1])
            .SetItems()
            .Unicode("scaler").EmptyDict().Mark()
                .Unicode("scale").Float(65536.0).Unicode("growth_factor").Float(2.0).Unicode("backoff_factor").Float(0.5)
                .Unicode("growth_interval").Int(2000).Unicode("_growth_tracker").Int(0)
            .SetItems()
            .Unicode("args").Global("argparse", "Namespace").EmptyTuple().Op(0x81)
                .EmptyDict().Mark()
                    .Unicode("model").Unicode("EfficientViT_M0").Unicode("epochs").Int(300).Unicode("batch_size").Int(256)
                    .Unicode("lr").Float(4e-3).Unicode("input_size").Int(224).Unicode("clip_mode").Unicode("agc")
                    .Unicode("model_ema").Bool(true).Unicode("opt_betas").None().Unicode("output_dir").Unicode("runs/m0")
                .SetItems().Op((byte)'b')
            .SetItems()
            .Stop()
            .ToArray();

        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        Add(zip, Prefix + "/data.pkl", [.. modelPickle.AsSpan(0, modelPickle.Length - 1), .. rest]);
        Add(zip, Prefix + "/byteorder", Encoding.ASCII.GetBytes("little"));
        foreach (var storage in storages)
            Add(zip, $"{Prefix}/data/{storage.Name}", ReadAll(storage));
        Add(zip, $"{Prefix}/data/{step}", TorchZip.Floats(3000f));
        Add(zip, $"{Prefix}/data/{expAvg}", TorchZip.Floats(0.1f, -0.2f));
        Add(zip, $"{Prefix}/data/{expAvgSq}", TorchZip.Floats(0.01f, 0.04f));
        Add(zip, $"{Prefix}/data/{ema}", TorchZip.Floats(5f, -5f));
        Add(zip, Prefix + "/version", Encoding.ASCII.GetBytes("3\n"));
    }

    private static byte[] ReadAll(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static void Add(ZipArchive zip, string name, byte[] bytes)
    {
        using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        stream.Write(bytes);
    }
}
