# The product only (the launcher and the stages under it; no embedded stack, demo, workloads or
# benchmarks): built and run; used by docker-compose.yml.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY . .
RUN mvn -B -q -DskipTests -pl launcher -am package

FROM eclipse-temurin:17-jre
WORKDIR /app
COPY --from=build /src/launcher/target/understudy.jar /app/understudy.jar
COPY --from=build /src/launcher/target/lib /app/lib
ENTRYPOINT ["java", "-Xmx1g", "-jar", "/app/understudy.jar"]
