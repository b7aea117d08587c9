import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Connection } from '../common/pagination';

@ObjectType({ description: 'Something the shop sells.' })
export class Product {
  @Field(() => ID)
  id!: number;

  @Field()
  sku!: string;

  @Field()
  name!: string;

  @Field()
  description!: string;

  @Field(() => Int)
  priceCents!: number;

  @Field(() => Int, { description: 'Units in stock.' })
  stock!: number;

  @Field()
  updatedAt!: Date;
}

@ObjectType()
export class ProductConnection extends Connection(Product, 'Product') {}

@InputType({ description: 'The fields to change; omitted fields keep their value.' })
export class UpdateProductInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Int, { nullable: true })
  priceCents?: number | null;

  @Field(() => Int, { nullable: true })
  stock?: number | null;
}
