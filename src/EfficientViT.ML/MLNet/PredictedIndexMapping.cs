using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// The index of the most probable class, inside ML.NET's <c>CustomMapping</c>: ML.NET's ONNX scoring
/// gives only vectors, and a predicted label must be a scalar key. A saved classifier records only the
/// contract name <see cref="ContractName"/>: before <c>mlContext.Model.Load</c>, call
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(PredictedIndexMapping).Assembly)</c>.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class PredictedIndexMapping : CustomMappingFactory<PredictedIndexMapping.Probabilities, PredictedIndexMapping.Index>
{
    /// <summary>The name a saved model uses for this mapping.</summary>
    public const string ContractName = "EfficientViT.PredictedIndex";

    /// <summary>Fixed input column: a saved CustomMapping keeps no column renames.</summary>
    public const string ProbabilitiesColumnName = "EfficientVit_ClassProbabilities";

    /// <summary>Fixed output column, mapped onto the label's keys and then dropped by the classifier.</summary>
    public const string IndexColumnName = "EfficientVit_PredictedIndex";

    /// <inheritdoc/>
    public override Action<Probabilities, Index> GetMapping() => Map;

    /// <summary>Sets the index of the largest probability (the first, on ties).</summary>
    public static void Map(Probabilities input, Index output)
    {
        var values = input.Values ?? [];
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
                best = i;
        }
        output.Value = best;
    }

    /// <summary>The mapping's input row.</summary>
    public sealed class Probabilities
    {
        /// <summary>Class probabilities.</summary>
        [ColumnName(ProbabilitiesColumnName)]
        public float[]? Values { get; set; }
    }

    /// <summary>The mapping's output row.</summary>
    public sealed class Index
    {
        /// <summary>The predicted class index, zero-based.</summary>
        [ColumnName(IndexColumnName)]
        public long Value { get; set; }
    }
}
