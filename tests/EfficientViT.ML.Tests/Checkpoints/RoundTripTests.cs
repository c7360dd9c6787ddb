using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using TorchSharp;
using static TorchSharp.torch;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Tests.Checkpoints;

public class RoundTripTests
{
    [Fact]
    public void Own_format_round_trip_gives_identical_outputs_and_keeps_metadata()
    {
        using var dir = new TempDirectory();
        using var model = EfficientVit.Create(EfficientVitVariant.M1, imageSize: 128, numClasses: 3, distillation: true);
        RandomWeights.Apply(model);
        model.eval();
        var metadata = CheckpointMetadata.FromConfig(model.Config) with
        {
            ClassNames = ["cat", "dog", "bird"],
            Preprocessing = new ImagePreprocessing(128, 0.875, [0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f], Grayscale: true),
            Training = new() { ["epochs"] = "3" },
        };
        var path = dir.File("m1.safetensors");
        EfficientVitCheckpoint.Save(model, path, metadata);

        using var loaded = EfficientVitCheckpoint.Load(path);
        Assert.Equal(CheckpointFormat.EfficientVitSafeTensors, loaded.Format);
        Assert.Equal("M1", loaded.Metadata.Variant);
        Assert.Equal(128, loaded.Model.Config.ImageSize);
        Assert.True(loaded.Model.Config.Distillation);
        Assert.Equal(metadata.ClassNames, loaded.Metadata.ClassNames);
        Assert.Equal(metadata.Preprocessing.Mean, loaded.Metadata.Preprocessing.Mean);
        Assert.Equal(metadata.Preprocessing.Std, loaded.Metadata.Preprocessing.Std);
        Assert.True(loaded.Metadata.Preprocessing.Grayscale);
        Assert.Equal("3", loaded.Metadata.Training["epochs"]);

        using var scope = NewDisposeScope();
        var x = randn(2, 3, 128, 128);
        Assert.Equal(0f, TestFiles.MaxAbsDiff(model.forward(x), loaded.Model.forward(x)));
    }

    [Fact]
    public void Official_renamed_to_timm_loads_the_same_model()
    {
        using var dir = new TempDirectory();
        var official = TorchCheckpointReader.ReadStateDict(TestFiles.OfficialM0("efficientvit_m0.pth"));
        var timm = TimmKeyMapping.ToTimm(official);
        Assert.Contains("stages.1.downsample.patchmerge.se.fc1.weight", timm.Keys);
        Assert.Contains("patch_embed.conv4.conv.weight", timm.Keys);
        Assert.Contains("stages.2.blocks.0.mixer.m.attn.qkvs.0.conv.weight", timm.Keys);
        Assert.Contains("head.linear.weight", timm.Keys);
        Assert.DoesNotContain(timm.Keys, k => k.EndsWith("attention_bias_idxs", StringComparison.Ordinal));
        var path = dir.File("efficientvit_m0.r224_in1k.safetensors");
        SafeTensorsFile.Write(path, timm);

        using var fromOfficial = EfficientVitCheckpoint.Load(TestFiles.OfficialM0("efficientvit_m0.pth"));
        using var fromTimm = EfficientVitCheckpoint.Load(path);
        Assert.Equal(CheckpointFormat.TimmSafeTensors, fromTimm.Format);
        using var scope = NewDisposeScope();
        var x = TestFiles.ReadFloat32(TestFiles.OfficialM0("input_2x3x224x224.f32"), 2, 3, 224, 224);
        Assert.Equal(0f, TestFiles.MaxAbsDiff(fromOfficial.Model.forward(x), fromTimm.Model.forward(x)));
        foreach (var tensor in official.Values) tensor.Dispose();
    }

    [Fact]
    public void Timm_mapping_is_a_bijection_on_every_variant()
    {
        foreach (var variant in Enum.GetValues<EfficientVitVariant>())
        {
            using var model = EfficientVit.Create(variant);
            var keys = model.state_dict().Keys.Where(k => !TimmKeyMapping.IsDroppedInTimm(k)).ToList();
            var timm = keys.Select(TimmKeyMapping.ToTimm).ToList();
            Assert.Equal(keys.Count, timm.Distinct().Count());
            Assert.Equal(keys, timm.Select(TimmKeyMapping.ToOfficial));
        }
    }

    [Fact]
    public void Two_dimensional_pointwise_weights_are_reshaped_as_the_official_loader_does()
    {
        using var dir = new TempDirectory();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 4);
        RandomWeights.Apply(model);
        var squeezed = model.state_dict().ToDictionary(kv => kv.Key,
            kv => kv.Value.dim() == 4 && kv.Value.shape[2] == 1 && kv.Value.shape[3] == 1 ? kv.Value.flatten(1) : kv.Value);
        var path = dir.File("squeezed.safetensors");
        SafeTensorsFile.Write(path, squeezed);

        using var loaded = EfficientVitCheckpoint.Load(path);
        model.eval();
        using var scope = NewDisposeScope();
        var x = randn(1, 3, 224, 224);
        Assert.Equal(0f, TestFiles.MaxAbsDiff(model.forward(x), loaded.Model.forward(x)));
    }

    [Fact]
    public void Excluding_the_head_seeds_a_model_with_other_classes()
    {
        using var loaded = EfficientVitCheckpoint.Load(TestFiles.OfficialM0("efficientvit_m0.pth"),
            new CheckpointLoadOptions { NumClasses = 7, ExcludeHead = true, ExpectedVariant = EfficientVitVariant.M0 });
        using var official = EfficientVitCheckpoint.Load(TestFiles.OfficialM0("efficientvit_m0.pth"));
        Assert.Equal(7, loaded.Model.Config.NumClasses);
        using var scope = NewDisposeScope();
        var x = randn(1, 3, 224, 224);
        Assert.Equal(new long[] { 1, 7 }, loaded.Model.forward(x).shape);
        Assert.Equal(0f, TestFiles.MaxAbsDiff(official.Model.PooledFeatures(x), loaded.Model.PooledFeatures(x)));
    }

    [Fact]
    public void Saving_is_atomic_and_refuses_a_fused_model()
    {
        using var dir = new TempDirectory();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 2);
        var path = dir.File("m0.safetensors");
        EfficientVitCheckpoint.Save(model, path);
        var before = File.ReadAllBytes(path);

        Assert.Throws<ArgumentException>(() => EfficientVitCheckpoint.Save(model, path, CheckpointMetadata.FromConfig(model.Config) with { ClassNames = ["only one"] }));
        model.FuseBatchNorm();
        Assert.Throws<InvalidOperationException>(() => EfficientVitCheckpoint.Save(model, path));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Preprocessing_metadata_records_the_evaluation_transform_and_classes()
    {
        var transform = ImageTransform.FashionMnist(48, train: false);
        var config = EfficientVitConfig.For(EfficientVitVariant.M0, 48, 2);

        var metadata = CheckpointMetadata.FromConfig(config).WithPreprocessing(transform.Preprocessing, ["a", "b"]);
        var preprocessing = metadata.Preprocessing;

        Assert.Equal(["a", "b"], metadata.ClassNames!);
        Assert.Equal(transform.Preprocessing.Mean, preprocessing.Mean);
        Assert.Equal(transform.Preprocessing.Std, preprocessing.Std);
        Assert.Equal(1.0, preprocessing.CropPercent);
        Assert.True(preprocessing.Grayscale);
        Assert.Equal(48, preprocessing.ImageSize);
        Assert.True(preprocessing.Grayscale);
        Assert.Equal(0.2860f, preprocessing.Mean[1]);
    }
}
