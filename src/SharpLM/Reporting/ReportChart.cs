namespace SharpLM.Reporting;

/// <summary>A drawn chart: the PNG written beside the page and embedded in it.</summary>
public sealed record ReportChart(string Title, string FileName, byte[] Png);
