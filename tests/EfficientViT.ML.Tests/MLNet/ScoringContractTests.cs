using System.IO.Compression;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Tests.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static EfficientViT.ML.Tests.MLNet.SmallFeaturizer;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>The network a featurizer saves says what it is, and LoadWithBatchedScoring builds its step from that alone.</summary>
[Collection(TorchGlobalStateCollection.Name)]
public class ScoringContractTests
{
    // The networks of a zip's ONNX steps, as ML.NET wrote them (an int32 length, then the model).
    private static List<byte[]> SavedNetworks(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        return archive.Entries.Where(e => e.FullName.EndsWith("/OnnxModel", StringComparison.Ordinal)).Select(e =>
        {
            using var reader = new BinaryReader(e.Open());
            return reader.ReadBytes(reader.ReadInt32());
        }).ToList();
    }

    [Fact]
    public void A_saved_featurizer_network_carries_its_contract_and_the_loaded_step_is_built_from_it()
    {
        using var model = Model(seed: 31);
        using var dir = new TempDirectory();
        var mlContext = new MLContext(seed: 0);
        using var fitted = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, BatchSize = 3 })
            .Fit(mlContext.Data.LoadFromEnumerable(Images(2, seed: 1)));
        var zip = Path.Combine(dir.Path, "featurizer.zip");
        mlContext.Model.Save(fitted, null, zip);

        var contract = ScoringContract.Read(Assert.Single(SavedNetworks(zip)));
        using var loaded = (IDisposable)mlContext.Model.LoadWithBatchedScoring(zip, new BatchedScoringOptions { BatchSize = 3 }, out _);

        Assert.NotNull(contract);
        Assert.Equal(ScoringContract.FeaturizerRole, contract.Role);
        Assert.Equal(ScoringInputKind.Pixels, contract.InputKind);
        Assert.Equal(0, contract.BatchDimension);
        Assert.False(contract.OutputsBatched);
        Assert.Equal(ImagePreprocessing.ImageNet(64), contract.Preprocessing);
        Assert.StartsWith("EfficientVit_", contract.ImageColumn);
        Assert.Equal(ScoringContract.CurrentLibraryVersion, contract.LibraryVersion);
        var step = Assert.Single(EfficientViT.ML.Tests.MLNet.LoadWithBatchedScoringTests.Steps((ITransformer)loaded).OfType<BatchedOnnxStep>());
        Assert.Equal("contract", step.Source);
        // ImageNet's 64 / 0.875 -> 73, read from the record rather than searched for.
        Assert.Equal(73, Assert.IsType<ImageInput>(step.Input).Resampler.ResizeSize);
        Assert.Equal(0f, MaxAbsDifference(Features(fitted, mlContext.Data.LoadFromEnumerable(Images(7, seed: 2))),
            Features((ITransformer)loaded, mlContext.Data.LoadFromEnumerable(Images(7, seed: 2)))));
    }

    [Fact]
    public void A_network_without_a_contract_reads_as_none_and_a_broken_contract_is_refused_by_key()
    {
        using var model = Model(seed: 32);
        var plain = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions());
        var pixels = ScoringContract.ForPixelVectors(ScoringContract.FeaturizerRole).AddTo(plain);
        // The same contract with its input kind changed to one this version does not know (same length, so the protobuf stays valid).
        var broken = System.Text.Encoding.Latin1.GetBytes(System.Text.Encoding.Latin1.GetString(pixels).Replace("pixel_vector", "voxel_vector"));

        Assert.Null(ScoringContract.Read(plain));
        Assert.Equal(ScoringContract.ForPixelVectors(ScoringContract.FeaturizerRole), ScoringContract.Read(pixels));
        Assert.Contains("input kind", Assert.Throws<InvalidDataException>(() => ScoringContract.Read(broken)).Message);
    }

    [Fact]
    public void An_int8_featurizer_fitted_twice_calibrates_once_and_its_zip_loads_with_its_features()
    {
        using var model = Model(seed: 33);
        using var dir = new TempDirectory();
        var mlContext = new MLContext(seed: 0);
        var reports = new List<string>();
        mlContext.Log += (_, e) =>
        {
            if (e.Kind is ChannelMessageKind.Info or ChannelMessageKind.Warning && e.Message.Contains("EfficientVitFeaturize: int8 against float32", StringComparison.Ordinal))
                lock (reports)
                    reports.Add(e.Message);
        };
        var estimator = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
        {
            Model = model, BatchSize = 4, Quantization = EfficientVitQuantization.Int8,
            CalibrationData = mlContext.Data.LoadFromEnumerable(Images(20, seed: 3)),
            Int8Quality = new Int8QualityOptions { Repair = false, AcceptBelowTarget = true },
        });

        using var first = estimator.Fit(mlContext.Data.LoadFromEnumerable(Images(2, seed: 4)));
        using var second = estimator.Fit(mlContext.Data.LoadFromEnumerable(Images(3, seed: 5)));

        var zip = Path.Combine(dir.Path, "int8.zip");
        mlContext.Model.Save(first, null, zip);
        using var loaded = (IDisposable)mlContext.Model.LoadWithBatchedScoring(zip, out _);

        Assert.Single(reports);
        Assert.Equal(first.OnnxModel.ToArray(), second.OnnxModel.ToArray());
        Assert.Equal("contract", Assert.Single(EfficientViT.ML.Tests.MLNet.LoadWithBatchedScoringTests.Steps((ITransformer)loaded).OfType<BatchedOnnxStep>()).Source);
        Assert.Equal(0f, MaxAbsDifference(Features(first, mlContext.Data.LoadFromEnumerable(Images(6, seed: 6))),
            Features((ITransformer)loaded, mlContext.Data.LoadFromEnumerable(Images(6, seed: 6)))));
    }
}
